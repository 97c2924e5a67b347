/**
 * What every Redis user of the core shares for its command connection (the client it was given):
 * each call under a deadline and a circuit breaker, the half-open probe kept for a client that can
 * answer it, a stalled connection torn down once the breaker opens on timeouts, and readiness.
 */
import type { RedisClient } from '../peer-types.js'
import { type CircuitBreaker, CircuitOpenError, guardedCall } from './circuit-breaker.js'
import { TimeoutError } from './deadline.js'
import { busyNodes, isCluster } from './redis-cluster.js'

export { execBatch } from './redis-cluster.js'

/**
 * One Redis call under the deadline (default: the guard's) and the breaker. `write`: a timeout
 * tears the connection down at once (see {@link createRedisCall}).
 */
export type RedisCall = <T>(
  what: string,
  call: () => Promise<T>,
  timeoutMs?: number,
  write?: boolean,
) => Promise<T>

/** The last forced reconnect of each client: several owners share one client and one stall. */
const forcedAt = new WeakMap<object, number>()
/** At most one forced reconnect of a client per this many milliseconds. */
const RECONNECT_SPACING_MS = 1000

/**
 * Forces a reconnect of a client whose connection stalls (commands time out while ioredis still
 * says `ready`: no reset arrived). A connection whose bytes went missing can never be trusted
 * again, since ioredis matches replies to commands in order; a new one can.
 */
export function reconnectStalled(client: RedisClient): void {
  if (client.status !== 'ready' || typeof client.disconnect !== 'function') return
  // A Cluster is one connection per node: the nodes still owing answers are the ones that may
  // have stalled. ioredis' Cluster does not reconnect a node's connection; it opens a new one
  // when it next needs that node (a refresh of its slots).
  if (isCluster(client)) {
    for (const node of busyNodes(client)) reconnectStalled(node)
    return
  }
  const now = Date.now()
  const last = forcedAt.get(client)
  if (last !== undefined && now - last < RECONNECT_SPACING_MS) return
  forcedAt.set(client, now)
  // Fail the commands still waiting on the stalled connection first: ioredis would otherwise send
  // them again after the reconnect (`autoResendUnfulfilledCommands`), so a write the caller gave
  // up on at its deadline would run later, e.g. a stale cache fill after an invalidation.
  // `flushQueue` is what ioredis itself calls when a connection fails (not in its public types).
  const internals = client as {
    flushQueue?: (error: Error) => void
    stream?: { resetAndDestroy?: () => void }
  }
  internals.flushQueue?.(new Error('Redis connection stalled; reconnecting.'))
  // A reset, not a FIN: bytes still queued in the kernel (a write given up on) are discarded
  // instead of reaching Redis late. ioredis then reconnects by its `retryStrategy`.
  try {
    if (typeof internals.stream?.resetAndDestroy === 'function') {
      internals.stream.resetAndDestroy()
      return
    }
  } catch {
    // a TLS socket cannot be reset this way
  }
  client.disconnect(true)
}

/**
 * Forgets the commands ioredis keeps to send again once a reset connection is re-established
 * (`autoResendUnfulfilledCommands`, on by default): they were in flight at the reset. A write
 * given up at its deadline while the connection is down must not run after the reconnect (a stale
 * cache fill landing after an invalidation). Their callers are told the connection was reset.
 */
export function forgetResends(client: RedisClient): void {
  if (isCluster(client)) {
    for (const node of client.nodes('all')) forgetResends(node)
    return
  }
  type Item = { command: { reject(error: Error): void } }
  const internals = client as { prevCommandQueue?: { shift(): Item | undefined } | null }
  const queue = internals.prevCommandQueue
  if (queue === undefined || queue === null) return
  internals.prevCommandQueue = null
  const error = new Error('Redis connection reset; the command is not sent again.')
  for (let item = queue.shift(); item !== undefined; item = queue.shift())
    item.command.reject(error)
}

/** Our deadline, or ioredis' own `commandTimeout`. */
export function isTimeout(error: unknown): boolean {
  return error instanceof TimeoutError || (error as Error)?.message === 'Command timed out'
}

/**
 * A guarded Redis call for `client`: refused at once while the breaker is open; while it is not
 * closed, also refused (without spending the half-open probe) when the client is not `ready`, so
 * the probe goes to a client that has reconnected; and when a timeout opens the breaker, or a
 * write (`write: true`) times out, the client's connection is torn down and re-established (or,
 * when it is already down, what ioredis would send again after the reconnect is forgotten): a
 * write given up at its deadline must not reach Redis later (a stale cache fill landing after an
 * invalidation), and a stalled connection must not keep the client waiting.
 *
 * @example
 * const call = createRedisCall(redis, createCircuitBreaker(), 250)
 * const value = await call('GET', () => redis.get(key))
 */
export function createRedisCall(
  client: RedisClient,
  breaker: CircuitBreaker,
  defaultTimeoutMs: number,
): RedisCall {
  return async (what, call, timeoutMs = defaultTimeoutMs, write = false) => {
    if (breaker.state !== 'closed' && client.status !== 'ready') {
      throw new CircuitOpenError('Redis')
    }
    try {
      return await guardedCall(breaker, 'Redis', what, call, timeoutMs)
    } catch (error) {
      if (isTimeout(error) && (write || breaker.state === 'open')) {
        if (client.status === 'ready') reconnectStalled(client)
        else if (write) forgetResends(client)
      }
      throw error
    }
  }
}

/**
 * Resolves once the client's command connection is `ready` (at once when it is). A client made
 * with `lazyConnect` is connected.
 *
 * @example
 * await redisReady(redis)
 */
export function redisReady(client: RedisClient): Promise<void> {
  if (client.status === 'ready') return Promise.resolve()
  if (client.status === 'wait') client.connect?.().catch(() => {})
  return new Promise<void>((resolve) => {
    client.once('ready', () => resolve())
  })
}
