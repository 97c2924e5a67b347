/**
 * One Redis pub/sub channel on a duplicate connection, resubscribed by hand after every reconnect
 * so that the owner knows when messages may have been missed (the pattern of the permission
 * store's Redis layer, shared by the revocation list and the session store).
 */
import type { Redis } from '../peer-types.js'

export interface SubscriptionHandlers {
  /** A message on the channel. */
  message(text: string): void
  /**
   * The channel is subscribed. `first` is false after a reconnect: messages published while the
   * connection was down are lost, so the owner catches up (or drops what it holds locally).
   */
  subscribed(first: boolean): void
  /** The subscription connection was lost (reconnection is automatic). */
  lost?(): void
}

export interface ChannelSubscription {
  /** Resolves once the channel has been subscribed the first time (or the subscription is closed). */
  ready(): Promise<void>
  /** True while the channel is subscribed. */
  readonly live: boolean
  /** Disconnects the duplicate connection. */
  close(): void
}

/**
 * Subscribes to `channel` on `client.duplicate()`. The duplicate waits for Redis with no deadline
 * (it is on no request's path) and inherits the client's `retryStrategy`.
 *
 * @example
 * const sub = subscribeChannel(redis, 'af:revocations', {
 *   message: (text) => apply(JSON.parse(text)),
 *   subscribed: (first) => { if (!first) void catchUp() },
 * })
 * await sub.ready()
 */
export function subscribeChannel(
  client: Redis,
  channel: string,
  handlers: SubscriptionHandlers,
): ChannelSubscription {
  const sub = client.duplicate({
    enableOfflineQueue: true,
    maxRetriesPerRequest: null,
    commandTimeout: undefined,
    autoResubscribe: false,
    lazyConnect: false,
  })
  let live = false
  let first = true
  let closed = false
  let resolveReady: () => void = () => {}
  const readyPromise = new Promise<void>((resolve) => {
    resolveReady = resolve
  })

  sub.on('error', () => {
    // Reconnection is automatic; the loss is reported on `close` and repaired on `ready`.
  })
  sub.on('close', () => {
    if (!live) return
    live = false
    if (!closed) handlers.lost?.()
  })
  sub.on('message', (from: string, text: string) => {
    if (from === channel && !closed) handlers.message(text)
  })
  sub.on('ready', () => {
    sub.subscribe(channel).then(
      () => {
        if (closed) return
        live = true
        const wasFirst = first
        first = false
        handlers.subscribed(wasFirst)
        resolveReady()
      },
      () => {
        // The connection dropped again; the next `ready` retries.
      },
    )
  })

  return {
    ready: () => readyPromise,
    get live() {
      return live
    },
    close() {
      if (closed) return
      closed = true
      live = false
      resolveReady()
      sub.disconnect()
    },
  }
}
