/**
 * The two-layer cache of active introspection answers: a process-local LRU, then Redis shared by
 * every instance. Keys are SHA-256 hashes of tokens; the token itself is never stored. Entries
 * carry the instant they stop being valid and are never served after it.
 */

import { LRUCache } from 'lru-cache'
import { type CircuitState, createCircuitBreaker } from '../infra/circuit-breaker.js'
import { createRedisCall, execBatch, redisReady } from '../infra/redis.js'
import {
  type ChannelSubscription,
  resolveSubscriptionOptions,
  type SubscriptionOptions,
  type SubscriptionStatus,
  subscribeChannel,
} from '../infra/subscription.js'
import type { RedisClient } from '../peer-types.js'
import type { Clock } from '../types.js'
import { deepFreeze } from '../util.js'

/** The claims of an active token, deeply frozen. */
export type IntrospectedClaims = Readonly<Record<string, unknown>>

/** Options of the Redis layer of the introspection cache. */
export interface IntrospectionRedisOptions extends SubscriptionOptions {
  /**
   * An ioredis client or Cluster, never closed by the cache. Recommended client options, as for the
   * permission store: `{ enableOfflineQueue: false, commandTimeout: 200, maxRetriesPerRequest: 1 }`.
   */
  readonly client: RedisClient
  /** Prefix of every key (`${keyPrefix}introspection:<hash>`) and of the eviction channel. Default `'af:'`. */
  readonly keyPrefix?: string
  /** Deadline of each Redis call. Default 250. */
  readonly timeoutMs?: number
  /** Circuit breaker of the Redis calls. Default 3 failures, 5000 ms. */
  readonly breaker?: { readonly failureThreshold?: number; readonly openMs?: number }
  /**
   * Subscribe (on a duplicate connection) to evictions made by other instances, so that `evict`
   * empties every instance's memory layer. Default true. Health-checked by a heartbeat
   * (`heartbeatIntervalMs`, `heartbeatTimeoutMs`: see `subscribeChannel`); the memory layer is
   * emptied when the subscription is lost and again when it is back.
   */
  readonly subscribe?: boolean
}

export interface TokenCacheOptions {
  readonly maxTtlSeconds: number
  /** `false`: no memory layer. */
  readonly memoryMax: number | false
  readonly redis: IntrospectionRedisOptions | undefined
  readonly clock: Clock
}

/** Counters, for metrics and tests. */
export interface TokenCacheStats {
  memoryHits: number
  redisHits: number
  redisErrors: number
}

export interface TokenCache {
  /** A memory hit, synchronously. */
  memory(hash: string): IntrospectedClaims | undefined
  /**
   * A Redis hit, which fills memory unless `current()` has turned false meanwhile (the token was
   * evicted while the read was in flight); a Redis failure counts as a miss.
   */
  shared(hash: string, current: () => boolean): Promise<IntrospectedClaims | undefined>
  /** Stores an active answer until `validUntilMs` in both layers; a Redis failure is ignored. */
  set(hash: string, claims: IntrospectedClaims, validUntilMs: number): Promise<void>
  /** Removes the entry from memory and Redis (and, when subscribed, from other instances' memory). */
  evict(hash: string): Promise<void>
  /** Starts the eviction subscription (if any) and resolves once it is established and the command connection is ready. */
  ready(): Promise<void>
  readonly hasShared: boolean
  readonly redisCircuit: CircuitState | undefined
  /** The eviction subscription, once started: its state and heartbeat misses. */
  readonly subscription: SubscriptionStatus | undefined
  readonly stats: Readonly<TokenCacheStats>
  close(): Promise<void>
}

interface Entry {
  readonly claims: IntrospectedClaims
  readonly until: number
}

const KEY_SPACE = 'introspection:'

/** Parses a Redis value; anything unexpected is a miss. */
function decode(raw: string | null): Entry | undefined {
  if (raw === null) return undefined
  try {
    const value = JSON.parse(raw) as { u?: unknown; c?: unknown }
    if (typeof value?.u !== 'number' || value.c === null || typeof value.c !== 'object') {
      return undefined
    }
    if (Array.isArray(value.c)) return undefined
    return { until: value.u, claims: deepFreeze(value.c as Record<string, unknown>) }
  } catch {
    return undefined
  }
}

/** The shared layer of the cache: Redis reads and writes, and the eviction channel. */
interface SharedLayer {
  /** The entry in Redis; `undefined` when absent, unreadable or Redis failed (counted). */
  get(hash: string): Promise<Entry | undefined>
  /** Writes an entry for `ttlMs`; a failure is counted and ignored. */
  set(hash: string, entry: Entry, ttlMs: number): Promise<void>
  /** Deletes the entry and publishes the eviction; rejects when Redis fails. */
  evict(hash: string): Promise<void>
  /** Starts the eviction subscription once (when configured); later calls do nothing. */
  start(): void
  ready(): Promise<void>
  readonly circuit: CircuitState
  readonly subscription: SubscriptionStatus | undefined
  close(): void
}

function createSharedLayer(
  redis: IntrospectionRedisOptions,
  clock: Clock,
  lru: LRUCache<string, Entry> | undefined,
  stats: TokenCacheStats,
): SharedLayer {
  const keyPrefix = redis.keyPrefix ?? 'af:'
  const redisTimeoutMs = redis.timeoutMs ?? 250
  const breaker = createCircuitBreaker({ ...redis.breaker, clock })
  const channel = `${keyPrefix}${KEY_SPACE}evict`
  const keyOf = (hash: string) => `${keyPrefix}${KEY_SPACE}${hash}`
  const heartbeat = resolveSubscriptionOptions(redis, 'cache.redis')
  const guarded = createRedisCall(redis.client, breaker, redisTimeoutMs)
  let subscription: ChannelSubscription | undefined
  let closed = false

  function start(): void {
    if (redis.subscribe === false || subscription !== undefined || closed) return
    const clear = () => lru?.clear()
    subscription = subscribeChannel(redis.client, channel, heartbeat, {
      message(hash) {
        lru?.delete(hash)
      },
      // evictions published while not subscribed are lost: drop the memory layer
      subscribed: clear,
      lost: clear,
    })
  }

  return {
    start,
    async ready() {
      start()
      await subscription?.ready()
      if (!closed) await redisReady(redis.client)
    },
    async get(hash) {
      try {
        return decode(await guarded('GET', () => redis.client.get(keyOf(hash))))
      } catch {
        stats.redisErrors++
        return undefined
      }
    },
    async set(hash, { claims, until }, ttlMs) {
      try {
        // a fill: timing out tears the connection down, so that it cannot land after an eviction
        await guarded(
          'SET',
          () => redis.client.set(keyOf(hash), JSON.stringify({ u: until, c: claims }), 'PX', ttlMs),
          redisTimeoutMs,
          true,
        )
      } catch {
        stats.redisErrors++ // the next instance asks the authorization server itself
      }
    },
    evict(hash) {
      return guarded('DEL+PUBLISH', () => {
        const multi = redis.client.multi().del(keyOf(hash))
        if (redis.subscribe !== false) multi.publish(channel, hash)
        return execBatch(multi)
      })
    },
    get circuit() {
      return breaker.state
    },
    get subscription() {
      return subscription?.status
    },
    close() {
      closed = true
      subscription?.close()
    },
  }
}

/**
 * Creates the cache. With Redis and `subscribe`, the subscription starts with the first call (so
 * that constructing an introspector opens no connection); when it is (re)established the memory
 * layer is emptied, since evictions published meanwhile may have been missed.
 *
 * @example
 * const cache = createTokenCache({ maxTtlSeconds: 300, memoryMax: 10_000, redis: { client }, clock: Date.now })
 */
export function createTokenCache(options: TokenCacheOptions): TokenCache {
  const { clock, maxTtlSeconds } = options
  const maxTtlMs = maxTtlSeconds * 1000
  const lru =
    options.memoryMax === false
      ? undefined
      : new LRUCache<string, Entry>({ max: options.memoryMax })
  const stats: TokenCacheStats = { memoryHits: 0, redisHits: 0, redisErrors: 0 }
  const shared =
    options.redis === undefined ? undefined : createSharedLayer(options.redis, clock, lru, stats)

  function fill(hash: string, entry: Entry): void {
    const limit = clock() + maxTtlMs
    lru?.set(hash, entry.until > limit ? { claims: entry.claims, until: limit } : entry)
  }

  return {
    async ready() {
      await shared?.ready()
    },
    hasShared: shared !== undefined,
    get redisCircuit() {
      return shared?.circuit
    },
    get subscription() {
      return shared?.subscription
    },
    stats,
    memory(hash) {
      if (lru === undefined) return undefined
      shared?.start()
      const entry = lru.get(hash)
      if (entry === undefined) return undefined
      if (clock() >= entry.until) {
        lru.delete(hash)
        return undefined
      }
      stats.memoryHits++
      return entry.claims
    },
    async shared(hash, current) {
      if (shared === undefined) return undefined
      shared.start()
      const entry = await shared.get(hash)
      if (entry === undefined || clock() >= entry.until) return undefined
      stats.redisHits++
      if (current()) fill(hash, entry)
      return entry.claims
    },
    async set(hash, claims, validUntilMs) {
      const until = Math.min(validUntilMs, clock() + maxTtlMs)
      const ttlMs = Math.ceil(until - clock())
      if (!(ttlMs > 0)) return
      const entry = { claims: deepFreeze(claims), until }
      lru?.set(hash, entry)
      if (shared === undefined) return
      shared.start()
      await shared.set(hash, entry, ttlMs)
    },
    async evict(hash) {
      lru?.delete(hash)
      if (shared === undefined) return
      shared.start()
      await shared.evict(hash)
    },
    async close() {
      lru?.clear()
      shared?.close()
    },
  }
}

/** The Redis key of a token hash under a prefix (for operations and tests). */
export function introspectionKey(keyPrefix: string, hash: string): string {
  return `${keyPrefix}${KEY_SPACE}${hash}`
}
