/**
 * Login attempt limits per username and per client address (IPv6 by /64): fixed windows counted
 * in memory (bounded LRU) and, when configured, in Redis so that every instance shares them.
 *
 * An attempt is reserved before any password work, in one atomic step for the username and the
 * address together (a synchronous update in memory, one Lua script in Redis), and refused when
 * either is full. So a burst of N concurrent attempts runs at most `maxFailures` password checks
 * per window, whatever N. A failure keeps its reservation as the counted failure; a success gives
 * its own back and clears the username's finished failures, not the attempts still in flight.
 */
import { createHash } from 'node:crypto'
import { LRUCache } from 'lru-cache'
import {
  type CircuitBreakerOptions,
  CircuitOpenError,
  createCircuitBreaker,
} from '../infra/circuit-breaker.js'
import { createRedisCall } from '../infra/redis.js'
import type { Redis } from '../peer-types.js'
import type { Clock } from '../types.js'
import { clientAddressGroup } from './client-address.js'
import { TooManyAttemptsError } from './errors.js'

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

interface Counter {
  /** Failures plus attempts in flight. */
  count: number
  /** Attempts in flight. */
  pending: number
  resetAt: number
}

interface Slot {
  readonly key: string
  readonly rule: RateLimitRule
}

type Outcome = 'failed' | 'succeeded' | 'release'

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
 * KEYS: the slots (username first); ARGV: maxFailures and window ms of each. A hash per slot:
 * `n` failures plus attempts in flight, `p` attempts in flight. Refuses (answers the longest
 * remaining block in ms) when any slot is full, else reserves in all of them and answers 0.
 * A key of another type (a counter of an older version) is dropped.
 */
const RESERVE_SCRIPT = `local blocked = 0
for i, key in ipairs(KEYS) do
  local kind = redis.call('TYPE', key)['ok']
  if kind ~= 'none' and kind ~= 'hash' then redis.call('DEL', key) end
  local n = tonumber(redis.call('HGET', key, 'n') or '0')
  if n >= tonumber(ARGV[2 * i - 1]) then
    local ttl = redis.call('PTTL', key)
    if ttl < 0 then
      ttl = tonumber(ARGV[2 * i])
      redis.call('PEXPIRE', key, ttl)
    end
    if ttl > blocked then blocked = ttl end
  end
end
if blocked > 0 then return blocked end
for i, key in ipairs(KEYS) do
  redis.call('HINCRBY', key, 'n', 1)
  redis.call('HINCRBY', key, 'p', 1)
  if redis.call('PTTL', key) < 0 then redis.call('PEXPIRE', key, ARGV[2 * i]) end
end
return 0`

/**
 * KEYS: the slots of a reservation (username first); ARGV[1]: failed, succeeded or release.
 * Every outcome ends one attempt in flight; a success sets the username's count to the attempts
 * still in flight; a success (other slots) or a release gives the reservation back.
 */
const SETTLE_SCRIPT = `for i, key in ipairs(KEYS) do
  if redis.call('TYPE', key)['ok'] == 'hash' then
    local p = math.max(tonumber(redis.call('HGET', key, 'p') or '0') - 1, 0)
    local n = tonumber(redis.call('HGET', key, 'n') or '0')
    if ARGV[1] == 'succeeded' and i == 1 then n = p
    elseif ARGV[1] ~= 'failed' then n = math.max(n - 1, 0) end
    redis.call('HSET', key, 'n', n, 'p', p)
  end
end
return 1`

interface Script {
  readonly text: string
  readonly sha: string
}

function script(text: string): Script {
  return { text, sha: createHash('sha1').update(text).digest('hex') }
}

const RESERVE = script(RESERVE_SCRIPT)
const SETTLE = script(SETTLE_SCRIPT)

/** EVALSHA, loading the script with EVAL when Redis does not know it (yet, or after a flush). */
async function evalScript(
  client: Redis,
  { text, sha }: Script,
  keys: readonly string[],
  args: readonly (string | number)[],
): Promise<unknown> {
  try {
    return await client.evalsha(sha, keys.length, ...keys, ...args)
  } catch (error) {
    if (!String((error as Error)?.message).startsWith('NOSCRIPT')) throw error
    return client.eval(text, keys.length, ...keys, ...args)
  }
}

/** Applies an outcome to the in-memory counters an attempt holds (username first). */
function settleCounters(counters: readonly Counter[], outcome: Outcome): void {
  counters.forEach((counter, i) => {
    counter.pending = Math.max(counter.pending - 1, 0)
    if (outcome === 'succeeded' && i === 0) counter.count = counter.pending
    else if (outcome !== 'failed') counter.count = Math.max(counter.count - 1, 0)
  })
}

/**
 * Creates the login limiter. In memory by default; with `redis`, counters are shared: one Lua
 * script (`EVALSHA`) reserves an attempt for the username and the address at once, another one
 * settles it.
 *
 * Redis outages neither lock everyone out nor allow unlimited guessing: every reservation is also
 * counted in memory, and while Redis is failing each instance enforces the same limits on its
 * own counters (so the effective limit is at most `maxFailures` times the number of instances).
 * With Redis Cluster, put a hash tag in `keyPrefix` (e.g. `'{af:login}:'`): the script needs the
 * username's and the address's key in one slot.
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
  const maxEntries = options.maxEntries ?? RATE_LIMIT_DEFAULTS.maxEntries
  if (!Number.isInteger(maxEntries) || maxEntries < 1) {
    throw new TypeError('createRateLimiter: maxEntries must be a positive integer, e.g. 100000.')
  }
  const clock = options.clock ?? Date.now
  const redis = options.redis
  if (redis !== undefined && typeof redis.client?.evalsha !== 'function') {
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

  /** The live in-memory counter of a slot (a new one when absent or past its window). */
  function counterOf(slot: Slot, now: number): Counter {
    let counter = memory.get(slot.key)
    if (counter === undefined || counter.resetAt <= now) {
      counter = { count: 0, pending: 0, resetAt: now + slot.rule.windowSeconds * 1000 }
      memory.set(slot.key, counter)
    }
    return counter
  }

  /**
   * Reserves in memory, synchronously (nothing else runs in between): when `enforce`, answers the
   * block in ms if a slot is full; else counts the attempt in every slot and answers its counters.
   */
  function memoryReserve(list: readonly Slot[], enforce: boolean): Counter[] | number {
    const now = clock()
    if (enforce) {
      let blockMs = 0
      for (const slot of list) {
        const counter = memory.get(slot.key)
        if (counter !== undefined && counter.resetAt > now) {
          if (counter.count >= slot.rule.maxFailures) {
            blockMs = Math.max(blockMs, counter.resetAt - now)
          }
        }
      }
      if (blockMs > 0) return blockMs
    }
    return list.map((slot) => {
      const counter = counterOf(slot, now)
      counter.count += 1
      counter.pending += 1
      return counter
    })
  }

  const guarded =
    redis === undefined ? undefined : createRedisCall(redis.client, breaker, timeoutMs)
  /** Runs a Redis call under the deadline and the breaker; undefined when Redis failed. */
  async function viaRedis<T>(call: (client: Redis) => Promise<T>): Promise<T | undefined> {
    if (redis === undefined || guarded === undefined) return undefined
    try {
      return await guarded('EVALSHA', () => call(redis.client))
    } catch (error) {
      if (!(error instanceof CircuitOpenError)) options.onRedisError?.(error)
      return undefined
    }
  }

  function reservation(counters: Counter[], redisKeys: string[] | undefined): LoginReservation {
    let settled = false
    const settle = async (outcome: Outcome) => {
      if (settled) return
      settled = true
      settleCounters(counters, outcome)
      if (redisKeys !== undefined) {
        await viaRedis((client) => evalScript(client, SETTLE, redisKeys, [outcome]))
      }
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
      const keys = list.map((slot) => slot.key)
      const args = list.flatMap((slot) => [slot.rule.maxFailures, slot.rule.windowSeconds * 1000])
      const answer = await viaRedis((client) => evalScript(client, RESERVE, keys, args))
      const shared = answer === undefined ? undefined : Number(answer)
      let blockMs: number
      if (shared === undefined || !Number.isFinite(shared)) {
        // No Redis (or Redis failing): this instance's own counters decide.
        const local = memoryReserve(list, true)
        if (typeof local !== 'number') return reservation(local, undefined)
        blockMs = local
      } else {
        blockMs = shared
        if (blockMs <= 0) {
          // Reserved for every instance; counted here too, for when Redis fails.
          return reservation(memoryReserve(list, false) as Counter[], keys)
        }
      }
      throw new TooManyAttemptsError(blockMs / 1000)
    },
  }
}
