/**
 * Failed-login limits per username and per client address: fixed windows counted in memory
 * (bounded LRU) and, when configured, in Redis so that every instance shares them.
 */
import { createHash } from 'node:crypto'
import { LRUCache } from 'lru-cache'
import type { Redis } from '../peer-types.js'
import {
  type CircuitBreakerOptions,
  createCircuitBreaker,
} from '../permissions/store/circuit-breaker.js'
import { withTimeout } from '../permissions/store/timeout.js'
import type { Clock } from '../types.js'
import { TooManyAttemptsError } from './errors.js'

/** At most `maxFailures` failed attempts per `windowSeconds`, counted from the first failure. */
export interface RateLimitRule {
  readonly maxFailures: number
  readonly windowSeconds: number
}

/** Who is trying: the username typed and the client's address (when known). */
export interface LoginAttempt {
  readonly username: string
  readonly clientAddress?: string | undefined
}

export interface RateLimiterOptions {
  /** Failures per username. Default 5 per 900 s. */
  readonly username?: RateLimitRule
  /** Failures per client address (many users may share one: NAT, proxies). Default 50 per 900 s. */
  readonly clientAddress?: RateLimitRule
  /** Most counters kept in memory (least recently used dropped first). Default 100 000. */
  readonly maxEntries?: number
  /**
   * Shared counters in Redis. While Redis fails (error, `timeoutMs`, open circuit), the limiter
   * falls back to this instance's in-memory counters, which are always kept as well.
   */
  readonly redis?: {
    /** An ioredis client; never closed by the limiter. Recommended: `enableOfflineQueue: false`. */
    readonly client: Redis
    /** Prefix of every key. Default `'af:login:'`. */
    readonly keyPrefix?: string
    /** Deadline of each Redis round trip. Default 250. */
    readonly timeoutMs?: number
    /** Circuit breaker over Redis calls. Default 3 failures, open 5000 ms. */
    readonly breaker?: Omit<CircuitBreakerOptions, 'clock'>
  }
  /** Called when a Redis call fails and the in-memory counters answer instead (e.g. to count it). */
  readonly onRedisError?: (error: unknown) => void
  /** Milliseconds since the epoch. Default `Date.now`. */
  readonly clock?: Clock
}

/** Default rules and sizes of {@link createRateLimiter}. */
export const RATE_LIMIT_DEFAULTS = Object.freeze({
  username: Object.freeze({ maxFailures: 5, windowSeconds: 900 }),
  clientAddress: Object.freeze({ maxFailures: 50, windowSeconds: 900 }),
  maxEntries: 100_000,
  keyPrefix: 'af:login:',
  timeoutMs: 250,
})

/** Failed-attempt counters for logins. */
export interface RateLimiter {
  /** Rejects with {@link TooManyAttemptsError} (429, `Retry-After`) when a limit is reached. */
  check(attempt: LoginAttempt): Promise<void>
  /** Counts one failed attempt for the username and the client address. */
  recordFailure(attempt: LoginAttempt): Promise<void>
  /** Clears the username's counter (not the address's: one good account must not reset it). */
  recordSuccess(attempt: LoginAttempt): Promise<void>
  /** `'redis'` when Redis is configured, else `'memory'`. */
  readonly backend: 'memory' | 'redis'
  /** The Redis keys of an attempt (for operations and tests). */
  keysOf(attempt: LoginAttempt): { username: string; clientAddress: string | undefined }
}

interface Counter {
  count: number
  resetAt: number
}

interface Slot {
  readonly key: string
  readonly rule: RateLimitRule
}

function checkRule(name: string, rule: RateLimitRule): RateLimitRule {
  if (!Number.isInteger(rule?.maxFailures) || rule.maxFailures < 1) {
    throw new TypeError(
      `createRateLimiter: ${name}.maxFailures must be a positive integer, e.g. 5.`,
    )
  }
  if (!Number.isInteger(rule.windowSeconds) || rule.windowSeconds < 1) {
    throw new TypeError(
      `createRateLimiter: ${name}.windowSeconds must be a positive integer, e.g. 900.`,
    )
  }
  return Object.freeze({ maxFailures: rule.maxFailures, windowSeconds: rule.windowSeconds })
}

/** A fixed-length key part: no username or address is kept in clear in memory or Redis. */
function digest(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('base64url')
}

/**
 * Creates the failed-login limiter. In memory by default; with `redis`, counters are shared
 * (`SET key 0 EX window NX` + `INCR key` in one pipeline per failure, `GET` + `PTTL` per check).
 *
 * Redis outages neither lock everyone out nor allow unlimited guessing: every failure is also
 * counted in memory, and while Redis is failing each instance enforces the same limits on its
 * own counters (so the effective limit is at most `maxFailures` times the number of instances).
 *
 * @example
 * const limiter = createRateLimiter({ redis: { client: new Redis(url, { enableOfflineQueue: false }) } })
 * await limiter.check({ username, clientAddress }) // throws TooManyAttemptsError when over
 */
export function createRateLimiter(options: RateLimiterOptions = {}): RateLimiter {
  const userRule = checkRule('username', options.username ?? RATE_LIMIT_DEFAULTS.username)
  const addressRule = checkRule(
    'clientAddress',
    options.clientAddress ?? RATE_LIMIT_DEFAULTS.clientAddress,
  )
  const maxEntries = options.maxEntries ?? RATE_LIMIT_DEFAULTS.maxEntries
  if (!Number.isInteger(maxEntries) || maxEntries < 1) {
    throw new TypeError('createRateLimiter: maxEntries must be a positive integer, e.g. 100000.')
  }
  const clock = options.clock ?? Date.now
  const redis = options.redis
  if (redis !== undefined && typeof redis.client?.pipeline !== 'function') {
    throw new TypeError(
      'createRateLimiter: redis.client must be an ioredis client (new Redis(url)).',
    )
  }
  const keyPrefix = redis?.keyPrefix ?? RATE_LIMIT_DEFAULTS.keyPrefix
  const timeoutMs = redis?.timeoutMs ?? RATE_LIMIT_DEFAULTS.timeoutMs
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new TypeError('createRateLimiter: redis.timeoutMs must be a positive number, e.g. 250.')
  }
  const breaker = createCircuitBreaker({ ...redis?.breaker, clock })
  const memory = new LRUCache<string, Counter>({ max: maxEntries })

  function keysOf(attempt: LoginAttempt) {
    const name = attempt.username.normalize('NFKC').toLowerCase()
    return {
      username: `${keyPrefix}u:${digest(name)}`,
      clientAddress:
        attempt.clientAddress === undefined || attempt.clientAddress === ''
          ? undefined
          : `${keyPrefix}a:${digest(attempt.clientAddress)}`,
    }
  }

  function slots(attempt: LoginAttempt): Slot[] {
    if (typeof attempt?.username !== 'string') {
      throw new TypeError('rateLimiter: username must be a string.')
    }
    const keys = keysOf(attempt)
    const out: Slot[] = [{ key: keys.username, rule: userRule }]
    if (keys.clientAddress !== undefined) out.push({ key: keys.clientAddress, rule: addressRule })
    return out
  }

  /** Remaining block in ms of one in-memory counter (0 when not blocked). */
  function memoryBlock(slot: Slot, now: number): number {
    const counter = memory.get(slot.key)
    if (counter === undefined || counter.resetAt <= now) return 0
    return counter.count >= slot.rule.maxFailures ? counter.resetAt - now : 0
  }

  function memoryFail(slot: Slot, now: number): void {
    const counter = memory.get(slot.key)
    if (counter === undefined || counter.resetAt <= now) {
      memory.set(slot.key, { count: 1, resetAt: now + slot.rule.windowSeconds * 1000 })
    } else {
      counter.count += 1
    }
  }

  /** Runs a Redis call under the deadline and the breaker; undefined when Redis failed. */
  async function viaRedis<T>(call: (client: Redis) => Promise<T>): Promise<T | undefined> {
    if (redis === undefined) return undefined
    if (!breaker.allow()) return undefined
    try {
      const value = await withTimeout(call(redis.client), timeoutMs, 'Redis')
      breaker.success()
      return value
    } catch (error) {
      breaker.failure()
      options.onRedisError?.(error)
      return undefined
    }
  }

  type PipelineResult = Array<[Error | null, unknown]> | null

  function unwrap(results: PipelineResult): unknown[] {
    if (results === null) throw new Error('Redis pipeline was discarded.')
    return results.map(([error, value]) => {
      if (error) throw error
      return value
    })
  }

  return {
    backend: redis === undefined ? 'memory' : 'redis',
    keysOf,
    async check(attempt) {
      const list = slots(attempt)
      let blockMs = 0
      const shared = await viaRedis(async (client) => {
        const pipeline = client.pipeline()
        for (const slot of list) pipeline.get(slot.key).pttl(slot.key)
        return unwrap(await pipeline.exec())
      })
      if (shared === undefined) {
        // No Redis (or Redis failing): this instance's own counters decide.
        const now = clock()
        for (const slot of list) blockMs = Math.max(blockMs, memoryBlock(slot, now))
      } else {
        // Redis answers for every instance (a success elsewhere may have cleared a counter).
        list.forEach((slot, i) => {
          const count = Number(shared[i * 2] ?? 0)
          const pttl = Number(shared[i * 2 + 1])
          if (count >= slot.rule.maxFailures) {
            // -1: a key without expiry (not ours); block for a whole window rather than forever.
            blockMs = Math.max(blockMs, pttl > 0 ? pttl : slot.rule.windowSeconds * 1000)
          }
        })
      }
      if (blockMs > 0) throw new TooManyAttemptsError(blockMs / 1000)
    },
    async recordFailure(attempt) {
      const list = slots(attempt)
      const now = clock()
      for (const slot of list) memoryFail(slot, now)
      await viaRedis(async (client) => {
        const pipeline = client.pipeline()
        for (const slot of list) {
          pipeline.set(slot.key, 0, 'EX', slot.rule.windowSeconds, 'NX').incr(slot.key)
        }
        return unwrap(await pipeline.exec())
      })
    },
    async recordSuccess(attempt) {
      const [user] = slots(attempt)
      if (user === undefined) return
      memory.delete(user.key)
      await viaRedis((client) => client.del(user.key))
    },
  }
}
