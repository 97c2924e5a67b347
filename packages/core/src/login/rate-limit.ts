/**
 * Login attempt limits per username and per client address (IPv6 by /64): fixed windows counted
 * in memory (bounded LRU, `rate-limit-memory.ts`) and, when configured, in Redis so that every
 * instance shares them (`rate-limit-redis.ts`). This module keys the attempts and composes both.
 *
 * An attempt is reserved before any password work, in one atomic step for the username and the
 * address together (a synchronous update in memory, one Lua script in Redis), and refused when
 * either is full. So a burst of N concurrent attempts runs at most `maxFailures` password checks
 * per window, whatever N. A failure keeps its reservation as the counted failure; a success gives
 * its own back and clears the username's finished failures, not the attempts still in flight.
 */
import { createHash } from 'node:crypto'
import { type CircuitBreakerOptions, createCircuitBreaker } from '../infra/circuit-breaker.js'
import { isRedisClient } from '../infra/redis-cluster.js'
import type { RedisClient } from '../peer-types.js'
import type { Clock } from '../types.js'
import { invalid, positiveInteger, positiveNumber } from '../validate.js'
import { clientAddressGroup } from './client-address.js'
import { TooManyAttemptsError } from './errors.js'
import { type Counter, createMemoryCounters, type Outcome, type Slot } from './rate-limit-memory.js'
import { createRedisCounters } from './rate-limit-redis.js'

/**
 * At most `maxFailures` attempts that failed or are still running per `windowSeconds`, counted
 * from the first reservation.
 */
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
  /**
   * Failures per client address, IPv6 addresses grouped by /64 (many users may share one: NAT,
   * proxies). Default 50 per 900 s.
   */
  readonly clientAddress?: RateLimitRule
  /** Most counters kept in memory (least recently used dropped first). Default 100 000. */
  readonly maxEntries?: number
  /**
   * Shared counters in Redis. While Redis fails (error, `timeoutMs`, open circuit), the limiter
   * falls back to this instance's in-memory counters, which are always kept as well.
   */
  readonly redis?: {
    /** An ioredis client or Cluster; never closed by the limiter. Recommended: `enableOfflineQueue: false`. */
    readonly client: RedisClient
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

/** What {@link RateLimiter.reserve} hands out: settle it once with the attempt's outcome. */
export interface LoginReservation {
  /** The password check failed: the reservation stays, as the counted failure. */
  failed(): Promise<void>
  /**
   * The login succeeded: gives this reservation back and clears the username's finished failures
   * (the attempts still in flight keep theirs); the address keeps its other failures.
   */
  succeeded(): Promise<void>
  /** The attempt ended without a password check (e.g. the user database failed): gives it back. */
  release(): Promise<void>
}

/** Login attempt limits. */
export interface RateLimiter {
  /**
   * Reserves one attempt for the username and the client address together, before any password
   * work; rejects with {@link TooManyAttemptsError} (429, `Retry-After`) and reserves nothing when
   * either is full.
   */
  reserve(attempt: LoginAttempt): Promise<LoginReservation>
  /** `'redis'` when Redis is configured, else `'memory'`. */
  readonly backend: 'memory' | 'redis'
  /** The Redis keys of an attempt (for operations and tests). */
  keysOf(attempt: LoginAttempt): { username: string; clientAddress: string | undefined }
}

const WHERE = 'createRateLimiter'

function checkRule(name: string, rule: RateLimitRule): RateLimitRule {
  return Object.freeze({
    maxFailures: positiveInteger(rule?.maxFailures, `${name}.maxFailures`, 5, WHERE),
    windowSeconds: positiveInteger(rule.windowSeconds, `${name}.windowSeconds`, 900, WHERE),
  })
}

/** A fixed-length key part: no username or address is kept in clear in memory or Redis. */
function digest(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('base64url')
}

/**
 * Creates the login limiter. In memory by default; with `redis`, counters are shared: one Lua
 * script (`EVALSHA`) reserves an attempt for the username and the address at once, another one
 * settles it.
 *
 * Redis outages neither lock everyone out nor allow unlimited guessing: every reservation is also
 * counted in memory, and while Redis is failing each instance enforces the same limits on its
 * own counters (so the effective limit is at most `maxFailures` times the number of instances).
 * With Redis Cluster the username's and the address's counters live in different slots, each
 * reserved by its own script (see `rate-limit-redis.ts`); a hash tag in `keyPrefix` (e.g.
 * `'{af:login}:'`) makes it one script again, at the price of every login on one slot.
 *
 * @example
 * const limiter = createRateLimiter({ redis: { client: new Redis(url, { enableOfflineQueue: false }) } })
 * const reservation = await limiter.reserve({ username, clientAddress }) // TooManyAttemptsError when full
 * const ok = await checkPassword()
 * await (ok ? reservation.succeeded() : reservation.failed())
 */
export function createRateLimiter(options: RateLimiterOptions = {}): RateLimiter {
  const userRule = checkRule('username', options.username ?? RATE_LIMIT_DEFAULTS.username)
  const addressRule = checkRule(
    'clientAddress',
    options.clientAddress ?? RATE_LIMIT_DEFAULTS.clientAddress,
  )
  const maxEntries = positiveInteger(
    options.maxEntries ?? RATE_LIMIT_DEFAULTS.maxEntries,
    'maxEntries',
    RATE_LIMIT_DEFAULTS.maxEntries,
    WHERE,
  )
  const clock = options.clock ?? Date.now
  const redis = options.redis
  if (
    redis !== undefined &&
    (!isRedisClient(redis.client) || typeof redis.client.evalsha !== 'function')
  ) {
    invalid(WHERE, 'redis.client', 'an ioredis client or Cluster', 'new Redis(url)')
  }
  const keyPrefix = redis?.keyPrefix ?? RATE_LIMIT_DEFAULTS.keyPrefix
  const timeoutMs = positiveNumber(
    redis?.timeoutMs ?? RATE_LIMIT_DEFAULTS.timeoutMs,
    'redis.timeoutMs',
    RATE_LIMIT_DEFAULTS.timeoutMs,
    WHERE,
  )
  const breaker = createCircuitBreaker({ ...redis?.breaker, clock })
  const memory = createMemoryCounters(maxEntries, clock)
  const shared =
    redis === undefined
      ? undefined
      : createRedisCounters(redis.client, breaker, timeoutMs, options.onRedisError)

  function keysOf(attempt: LoginAttempt) {
    const name = attempt.username.normalize('NFKC').toLowerCase()
    const address =
      typeof attempt.clientAddress === 'string' && attempt.clientAddress.trim() !== ''
        ? clientAddressGroup(attempt.clientAddress)
        : undefined
    return {
      username: `${keyPrefix}u:${digest(name)}`,
      clientAddress: address === undefined ? undefined : `${keyPrefix}a:${digest(address)}`,
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

  function reservation(counters: Counter[], redisKeys: string[] | undefined): LoginReservation {
    let settled = false
    const settle = async (outcome: Outcome) => {
      if (settled) return
      settled = true
      memory.settle(counters, outcome)
      if (redisKeys !== undefined) await shared?.settle(redisKeys, outcome)
    }
    return {
      failed: () => settle('failed'),
      succeeded: () => settle('succeeded'),
      release: () => settle('release'),
    }
  }

  return {
    backend: redis === undefined ? 'memory' : 'redis',
    keysOf,
    async reserve(attempt) {
      const list = slots(attempt)
      const sharedBlockMs = await shared?.reserve(list)
      let blockMs: number
      if (sharedBlockMs === undefined) {
        // No Redis (or Redis failing): this instance's own counters decide.
        const local = memory.reserve(list, true)
        if (typeof local !== 'number') return reservation(local, undefined)
        blockMs = local
      } else {
        blockMs = sharedBlockMs
        if (blockMs <= 0) {
          // Reserved for every instance; counted here too, for when Redis fails.
          const keys = list.map((slot) => slot.key)
          return reservation(memory.reserve(list, false) as Counter[], keys)
        }
      }
      throw new TooManyAttemptsError(blockMs / 1000)
    },
  }
}
