/**
 * Where the `jti`s of accepted DPoP proofs are remembered, so that each proof is accepted once
 * within the window in which its `iat` is acceptable (RFC 9449 section 11.1). The key is a hash of
 * the proof key's thumbprint and the `jti`, never the proof. In memory by default (one instance);
 * in Redis (`SET NX PX`) when several instances must agree. A store that cannot answer fails
 * closed: 503, never an accepted proof.
 */
import { AuthUnavailableError } from '../errors.js'
import { unavailable } from '../handlers/handler.js'
import type { CircuitBreaker } from '../infra/circuit-breaker.js'
import { createRedisCall } from '../infra/redis.js'
import type { RedisClient } from '../peer-types.js'
import type { Clock } from '../types.js'
import type { MaybePromise } from '../util.js'

export interface DpopReplayStore {
  /**
   * Records `key` for `ttlMs`: true when it was not recorded yet, false for a replay. Throws or
   * rejects (503) when the store cannot answer.
   */
  reserve(key: string, ttlMs: number): MaybePromise<boolean>
}

/**
 * The in-memory store: at most `max` live entries. When it is full of entries that have not
 * expired, a new proof is refused (503) rather than an entry forgotten early, which would let its
 * proof be replayed.
 *
 * @example
 * const store = createMemoryReplayStore(100_000, Date.now)
 * store.reserve(key, 60_000) // true, then false
 */
export function createMemoryReplayStore(max: number, clock: Clock): DpopReplayStore {
  const expiries = new Map<string, number>()
  let sweptAt = Number.NEGATIVE_INFINITY
  // a full store is swept at most once a second: a flood of proofs cannot make each one pay a sweep
  function sweep(now: number): void {
    if (now - sweptAt < 1000) return
    sweptAt = now
    for (const [key, expiresAt] of expiries) if (expiresAt <= now) expiries.delete(key)
  }
  return {
    reserve(key, ttlMs) {
      const now = clock()
      const expiresAt = expiries.get(key)
      if (expiresAt !== undefined && expiresAt > now) return false
      if (expiresAt === undefined && expiries.size >= max) {
        sweep(now)
        if (expiries.size >= max) {
          throw new AuthUnavailableError('The DPoP replay store is full.', { dependency: 'dpop' })
        }
      }
      expiries.set(key, now + ttlMs)
      return true
    },
  }
}

/** The Redis store's options, checked by the `dpop.replay` option. */
export interface RedisReplayStoreOptions {
  readonly client: RedisClient
  readonly keyPrefix: string
  readonly timeoutMs: number
  readonly breaker: CircuitBreaker
}

/**
 * The Redis store: one `SET key 1 PX ttl NX` per accepted proof, under a deadline and a circuit
 * breaker (`createRedisCall`). Any failure is a 503 `auth_unavailable` naming Redis.
 *
 * @example
 * const store = createRedisReplayStore({ client: redis, keyPrefix: 'af:dpop:', timeoutMs: 250, breaker: createCircuitBreaker() })
 * await store.reserve(key, 60_000) // true, then false on every instance
 */
export function createRedisReplayStore(options: RedisReplayStoreOptions): DpopReplayStore {
  const { client, keyPrefix, timeoutMs } = options
  const call = createRedisCall(client, options.breaker, timeoutMs)
  return {
    reserve(key, ttlMs) {
      const name = keyPrefix + key
      return call('SET', () =>
        client.set(name, '1', 'PX', Math.max(1, Math.ceil(ttlMs)), 'NX'),
      ).then(
        (answer) => answer === 'OK',
        (cause: unknown) => {
          throw unavailable(cause, 'The DPoP replay store is unavailable.', 'redis')
        },
      )
    },
  }
}
