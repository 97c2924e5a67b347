/**
 * One Redis pub/sub channel on a duplicate connection, resubscribed by hand after every reconnect
 * so that the owner knows when messages may have been missed, and health-checked by a heartbeat so
 * that a connection that stalls or is black-holed (no reset ever arrives) is noticed too: the
 * permission store's and the session store's Redis layers, the revocation list and the
 * introspection cache all subscribe through it.
 */
import type { Redis } from '../peer-types.js'
import { withTimeout } from './deadline.js'
import { isTimeout } from './redis.js'

export interface SubscriptionHandlers {
  /** A message on the channel. */
  message(text: string): void
  /**
   * The channel is subscribed. `first` is false after a reconnect: messages published while the
   * connection was down are lost, so the owner catches up (or drops what it holds locally).
   */
  subscribed(first: boolean): void
  /**
   * The subscription was lost: the connection closed, or a heartbeat went unanswered (the
   * connection is then torn down and a new one opened). Reconnection is automatic.
   */
  lost?(): void
}

export interface SubscriptionOptions {
  /**
   * How often the subscribed connection is sent a `PING` (allowed in subscribe mode). Default 1000;
   * `false`: no heartbeat (only a closed connection is noticed, never a stalled one).
   */
  readonly heartbeatIntervalMs?: number | false
  /**
   * Deadline of each heartbeat `PING` and of the `SUBSCRIBE`: past it the connection is torn down
   * and a new one opened. Also, a connection that is not subscribed within `heartbeatIntervalMs +
   * heartbeatTimeoutMs` of being opened (or lost) is replaced. Default 1000.
   */
  readonly heartbeatTimeoutMs?: number
}

/** Default options of {@link subscribeChannel}. */
export const SUBSCRIPTION_DEFAULTS = Object.freeze({
  heartbeatIntervalMs: 1000,
  heartbeatTimeoutMs: 1000,
})

/**
 * - `connecting`: not subscribed yet (the first time).
 * - `live`: subscribed, heartbeats answered.
 * - `lost`: was subscribed; reconnecting (messages may be missed meanwhile).
 * - `closed`: `close()` was called.
 */
export type SubscriptionState = 'connecting' | 'live' | 'lost' | 'closed'

/** What an operator can see of a subscription. */
export interface SubscriptionStatus {
  readonly state: SubscriptionState
  /** Heartbeats not answered within `heartbeatTimeoutMs` (each tore the connection down). */
  readonly heartbeatMisses: number
  /** Times the subscription went from `live` to `lost`. */
  readonly losses: number
  /** Connections replaced because they stalled (heartbeat, `SUBSCRIBE` or connection deadline). */
  readonly replacedConnections: number
}

export interface ChannelSubscription {
  /** Resolves once the channel has been subscribed the first time (or the subscription is closed). */
  ready(): Promise<void>
  /** True while the channel is subscribed and its heartbeats are answered. */
  readonly live: boolean
  readonly status: SubscriptionStatus
  /** Disconnects the duplicate connection. */
  close(): void
}

function positive(value: unknown, name: string, fallback: number): number {
  const v = value === undefined ? fallback : value
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
    throw new TypeError(`${name} must be a positive number of milliseconds, e.g. ${fallback}.`)
  }
  return v
}

/**
 * Resolves the heartbeat options (throws a `TypeError` naming the option when one is invalid), so
 * that owners can check them at construction.
 */
export function resolveSubscriptionOptions(
  options: SubscriptionOptions | undefined,
  owner: string,
): Required<SubscriptionOptions> {
  const d = SUBSCRIPTION_DEFAULTS
  const interval = options?.heartbeatIntervalMs
  return {
    heartbeatIntervalMs:
      interval === false
        ? false
        : positive(interval, `${owner}: heartbeatIntervalMs`, d.heartbeatIntervalMs),
    heartbeatTimeoutMs: positive(
      options?.heartbeatTimeoutMs,
      `${owner}: heartbeatTimeoutMs`,
      d.heartbeatTimeoutMs,
    ),
  }
}

const noop = () => {}

/**
 * Subscribes to `channel` on `client.duplicate()`. The duplicate queues its commands while
 * disconnected (it is on no request's path) and inherits the client's `retryStrategy`; the
 * subscription puts deadlines on it (also ioredis' `commandTimeout`, for its ready check): a `PING` every `heartbeatIntervalMs` answered within
 * `heartbeatTimeoutMs`, the `SUBSCRIBE` within `heartbeatTimeoutMs`, and a connection subscribed
 * within `heartbeatIntervalMs + heartbeatTimeoutMs` of being opened. A missed deadline reports
 * `lost` (when the channel was live) and replaces the connection by a new duplicate.
 *
 * @example
 * const sub = subscribeChannel(redis, 'af:revocations', { heartbeatIntervalMs: 1000 }, {
 *   message: (text) => apply(JSON.parse(text)),
 *   subscribed: (first) => { if (!first) void catchUp() },
 *   lost: () => startPolling(),
 * })
 * await sub.ready()
 */
export function subscribeChannel(
  client: Redis,
  channel: string,
  options: SubscriptionOptions | undefined,
  handlers: SubscriptionHandlers,
): ChannelSubscription {
  const { heartbeatIntervalMs, heartbeatTimeoutMs } = resolveSubscriptionOptions(
    options,
    'subscribeChannel',
  )
  const connectDeadlineMs = (heartbeatIntervalMs || heartbeatTimeoutMs) + heartbeatTimeoutMs

  let state: SubscriptionState = 'connecting'
  let first = true
  let heartbeatMisses = 0
  let losses = 0
  let replacedConnections = 0
  let conn: Redis | undefined
  let beatTimer: NodeJS.Timeout | undefined
  let watchdog: NodeJS.Timeout | undefined
  let resolveReady: () => void = noop
  const readyPromise = new Promise<void>((resolve) => {
    resolveReady = resolve
  })

  function arm(timer: NodeJS.Timeout): NodeJS.Timeout {
    timer.unref()
    return timer
  }

  /** Not subscribed: report the loss once, stop the heartbeat, replace the connection if it stays down. */
  function down(): void {
    clearTimeout(beatTimer)
    beatTimer = undefined
    if (state === 'live') {
      state = 'lost'
      losses++
      handlers.lost?.()
    }
    if (state === 'closed') return
    clearTimeout(watchdog)
    watchdog = arm(
      setTimeout(() => {
        if (state !== 'live' && state !== 'closed') replace()
      }, connectDeadlineMs),
    )
  }

  function up(): void {
    clearTimeout(watchdog)
    watchdog = undefined
    state = 'live'
    const wasFirst = first
    first = false
    handlers.subscribed(wasFirst)
    resolveReady()
    scheduleBeat()
  }

  function scheduleBeat(): void {
    if (heartbeatIntervalMs === false || state !== 'live') return
    const sub = conn!
    clearTimeout(beatTimer)
    beatTimer = arm(setTimeout(() => beat(sub), heartbeatIntervalMs))
  }

  function beat(sub: Redis): void {
    if (sub !== conn || state !== 'live') return
    let answered = false
    sub.ping().then(
      () => {
        answered = true
        if (sub === conn && state === 'live') scheduleBeat()
      },
      noop, // the connection closed: its `close` event reports it
    )
    beatTimer = arm(
      setTimeout(() => {
        // Let I/O already received be processed first, so that a blocked event loop is not taken
        // for a stalled connection.
        setImmediate(() => {
          if (answered || sub !== conn || state !== 'live') return
          heartbeatMisses++
          replace()
        })
      }, heartbeatTimeoutMs),
    )
  }

  /** Tears the current connection down (it may be stalled: no `close` will come) and opens another. */
  function replace(): void {
    if (state === 'closed') return
    replacedConnections++
    const old = conn
    conn = undefined
    down()
    old?.disconnect()
    open()
  }

  function open(): void {
    const sub = client.duplicate({
      enableOfflineQueue: true,
      maxRetriesPerRequest: null,
      // bounds ioredis' ready check (INFO), which would otherwise wait forever on a black hole
      commandTimeout: heartbeatTimeoutMs,
      // no CLIENT SETINFO before the ready check: on a black hole each would wait its deadline too
      disableClientInfo: true,
      autoResubscribe: false,
      lazyConnect: false,
    })
    conn = sub
    const current = () => sub === conn && state !== 'closed'
    sub.on('error', noop) // reconnection is automatic; the loss is reported on `close`
    sub.on('close', () => {
      if (current()) down()
    })
    sub.on('message', (from: string, text: string) => {
      if (from === channel && current()) handlers.message(text)
    })
    sub.on('ready', () => {
      if (!current()) return
      withTimeout(sub.subscribe(channel), heartbeatTimeoutMs, 'Redis SUBSCRIBE').then(
        () => {
          if (current() && state !== 'live') up()
        },
        (error: unknown) => {
          // A deadline: the connection stalled. Anything else (the connection dropped again):
          // the next `ready` retries, and the watchdog replaces a connection that stays down.
          if (current() && isTimeout(error)) {
            heartbeatMisses++
            replace()
          }
        },
      )
    })
    down() // arms the watchdog until subscribed
  }

  open()

  return {
    ready: () => readyPromise,
    get live() {
      return state === 'live'
    },
    get status(): SubscriptionStatus {
      return { state, heartbeatMisses, losses, replacedConnections }
    },
    close() {
      if (state === 'closed') return
      state = 'closed'
      clearTimeout(beatTimer)
      clearTimeout(watchdog)
      resolveReady()
      conn?.disconnect()
      conn = undefined
    },
  }
}
