/**
 * One Redis pub/sub channel on a duplicate connection, resubscribed by hand after every reconnect
 * so that the owner knows when messages may have been missed, and health-checked by a heartbeat so
 * that a connection that stalls or is black-holed (no reset ever arrives) is noticed too: the
 * permission store's and the session store's Redis layers, the revocation list and the
 * introspection cache all subscribe through it.
 */
import type { Redis, RedisClient } from '../peer-types.js'
import { positiveNumber } from '../validate.js'
import { withTimeout } from './deadline.js'
import { isTimeout } from './redis.js'
import { subscriberConnection } from './redis-cluster.js'

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
  const ms = (value: unknown, name: string, fallback: number) =>
    positiveNumber(value === undefined ? fallback : value, name, fallback, owner)
  return {
    heartbeatIntervalMs:
      interval === false ? false : ms(interval, 'heartbeatIntervalMs', d.heartbeatIntervalMs),
    heartbeatTimeoutMs: ms(options?.heartbeatTimeoutMs, 'heartbeatTimeoutMs', d.heartbeatTimeoutMs),
  }
}

const noop = () => {}

/** The state of one subscription, shared by the steps below. */
interface Sub {
  readonly client: RedisClient
  readonly channel: string
  readonly handlers: SubscriptionHandlers
  readonly heartbeatIntervalMs: number | false
  readonly heartbeatTimeoutMs: number
  /** A connection not subscribed within this long of being opened (or lost) is replaced. */
  readonly connectDeadlineMs: number
  state: SubscriptionState
  first: boolean
  heartbeatMisses: number
  losses: number
  replacedConnections: number
  conn: Redis | undefined
  beatTimer: NodeJS.Timeout | undefined
  watchdog: NodeJS.Timeout | undefined
  resolveReady: () => void
}

function arm(timer: NodeJS.Timeout): NodeJS.Timeout {
  timer.unref()
  return timer
}

/** Not subscribed: report the loss once, stop the heartbeat, replace the connection if it stays down. */
function down(s: Sub): void {
  clearTimeout(s.beatTimer)
  s.beatTimer = undefined
  if (s.state === 'live') {
    s.state = 'lost'
    s.losses++
    s.handlers.lost?.()
  }
  if (s.state === 'closed') return
  clearTimeout(s.watchdog)
  s.watchdog = arm(
    setTimeout(() => {
      if (s.state !== 'live' && s.state !== 'closed') replace(s)
    }, s.connectDeadlineMs),
  )
}

function up(s: Sub): void {
  clearTimeout(s.watchdog)
  s.watchdog = undefined
  s.state = 'live'
  const wasFirst = s.first
  s.first = false
  s.handlers.subscribed(wasFirst)
  s.resolveReady()
  scheduleBeat(s)
}

function scheduleBeat(s: Sub): void {
  const interval = s.heartbeatIntervalMs
  if (interval === false || s.state !== 'live') return
  const sub = s.conn!
  clearTimeout(s.beatTimer)
  s.beatTimer = arm(setTimeout(() => beat(s, sub), interval))
}

function beat(s: Sub, sub: Redis): void {
  if (sub !== s.conn || s.state !== 'live') return
  let answered = false
  sub.ping().then(
    () => {
      answered = true
      if (sub === s.conn && s.state === 'live') scheduleBeat(s)
    },
    noop, // the connection closed: its `close` event reports it
  )
  s.beatTimer = arm(
    setTimeout(() => {
      // Let I/O already received be processed first, so that a blocked event loop is not taken
      // for a stalled connection.
      setImmediate(() => {
        if (answered || sub !== s.conn || s.state !== 'live') return
        s.heartbeatMisses++
        replace(s)
      })
    }, s.heartbeatTimeoutMs),
  )
}

/**
 * Tears the current connection down (it may be stalled: no `close` will come) and opens another.
 * `stalled: false`: the connection ended by itself, which is not counted as a stall.
 */
function replace(s: Sub, stalled = true): void {
  if (s.state === 'closed') return
  if (stalled) s.replacedConnections++
  const old = s.conn
  s.conn = undefined
  down(s)
  old?.disconnect()
  open(s)
}

/** After a connection that will not reconnect by itself has ended, a new one is opened this soon. */
const REOPEN_MS = 100

/**
 * Opens a duplicate connection (on a Cluster, to one of its nodes) and subscribes it once it is
 * ready (again after each reconnect).
 */
function open(s: Sub): void {
  const { channel, heartbeatTimeoutMs } = s
  const sub = subscriberConnection(s.client, channel, {
    enableOfflineQueue: true,
    maxRetriesPerRequest: null,
    // bounds ioredis' ready check (INFO), which would otherwise wait forever on a black hole
    commandTimeout: heartbeatTimeoutMs,
    // no CLIENT SETINFO before the ready check: on a black hole each would wait its deadline too
    disableClientInfo: true,
    autoResubscribe: false,
    lazyConnect: false,
  })
  s.conn = sub
  if (sub === undefined) {
    down(s) // a Cluster that knows no node yet: the watchdog tries again
    return
  }
  const current = () => sub === s.conn && s.state !== 'closed'
  sub.on('error', noop) // reconnection is automatic; the loss is reported on `close`
  sub.on('close', () => {
    if (current()) down(s)
  })
  // A connection that gives up reconnecting (a Cluster node's, whose master failed over or left)
  // is replaced by one to another node, soon rather than at the watchdog's deadline.
  sub.on('end', () => {
    if (!current()) return
    arm(
      setTimeout(() => {
        if (current()) replace(s, false)
      }, REOPEN_MS),
    )
  })
  sub.on('message', (from: string, text: string) => {
    if (from === channel && current()) s.handlers.message(text)
  })
  sub.on('ready', () => {
    if (!current()) return
    withTimeout(sub.subscribe(channel), heartbeatTimeoutMs, 'Redis SUBSCRIBE').then(
      () => {
        if (current() && s.state !== 'live') up(s)
      },
      (error: unknown) => {
        // A deadline: the connection stalled. Anything else (the connection dropped again):
        // the next `ready` retries, and the watchdog replaces a connection that stays down.
        if (current() && isTimeout(error)) {
          s.heartbeatMisses++
          replace(s)
        }
      },
    )
  })
  down(s) // arms the watchdog until subscribed
}

/**
 * Subscribes to `channel` on `client.duplicate()` (on a Cluster, a duplicate of one of its nodes:
 * classic pub/sub, which every node delivers). The duplicate queues its commands while
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
  client: RedisClient,
  channel: string,
  options: SubscriptionOptions | undefined,
  handlers: SubscriptionHandlers,
): ChannelSubscription {
  const { heartbeatIntervalMs, heartbeatTimeoutMs } = resolveSubscriptionOptions(
    options,
    'subscribeChannel',
  )
  const s: Sub = {
    client,
    channel,
    handlers,
    heartbeatIntervalMs,
    heartbeatTimeoutMs,
    connectDeadlineMs: (heartbeatIntervalMs || heartbeatTimeoutMs) + heartbeatTimeoutMs,
    state: 'connecting',
    first: true,
    heartbeatMisses: 0,
    losses: 0,
    replacedConnections: 0,
    conn: undefined,
    beatTimer: undefined,
    watchdog: undefined,
    resolveReady: noop,
  }
  const readyPromise = new Promise<void>((resolve) => {
    s.resolveReady = resolve
  })
  open(s)

  return {
    ready: () => readyPromise,
    get live() {
      return s.state === 'live'
    },
    get status(): SubscriptionStatus {
      const { state, heartbeatMisses, losses, replacedConnections } = s
      return { state, heartbeatMisses, losses, replacedConnections }
    },
    close() {
      if (s.state === 'closed') return
      s.state = 'closed'
      clearTimeout(s.beatTimer)
      clearTimeout(s.watchdog)
      s.resolveReady()
      s.conn?.disconnect()
      s.conn = undefined
    },
  }
}
