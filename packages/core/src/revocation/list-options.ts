/**
 * The options of the distributed revocation list: what each one means, its default, and the one
 * check of them all at construction (a bad one throws a `TypeError` naming it). Validation only:
 * the composer (`distributed.ts`) builds the collaborators.
 */
import type { ChangeLog } from '../infra/change-log.js'
import type { PostgresQueryable } from '../infra/postgres.js'
import { isRedisClient } from '../infra/redis-cluster.js'
import { resolveSubscriptionOptions, type SubscriptionOptions } from '../infra/subscription.js'
import type { RedisClient } from '../peer-types.js'
import type { Clock } from '../types.js'
import { invalid, nonNegative, oneOf, plainObject, positiveInteger } from '../validate.js'
import type { RevocationSource } from './postgres.js'

/** How `isRevoked` answers: from the local list (`local`) or by asking Redis (`strict`). */
export type RevocationMode = 'local' | 'strict'

/** What failed, for `onError`. */
export type RevocationOperation = 'store' | 'publish' | 'sync' | 'rebuild' | 'check' | 'apply'

export interface RevocationListOptions extends SubscriptionOptions {
  /**
   * An ioredis client or Cluster for the denylist and publishing; `duplicate()`d once for the
   * subscription (a Cluster: one of its nodes, see docs/operations.md, "Scale-out"). Never closed by the list. Recommended client options, so that commands fail
   * fast while Redis is away: `{ enableOfflineQueue: false, commandTimeout: 200, maxRetriesPerRequest: 1 }`.
   */
  readonly redis: RedisClient
  /** A `pg` pool on the migrated schema (shorthand for `source: postgresRevocationSource({ pool })`). */
  readonly pool?: PostgresQueryable
  /** Where revocations are recorded; give either this or `pool`. */
  readonly source?: RevocationSource
  /** Prefix of every Redis key and of the channel (`${keyPrefix}revocations`). Default `'af:'`. */
  readonly keyPrefix?: string
  /** Default `'local'`. */
  readonly mode?: RevocationMode
  /** Most revocations kept in memory (see `createMemoryRevocationList`). Default 100 000. */
  readonly max?: number
  /** Rows per catch-up query. Default 1000. */
  readonly pageSize?: number
  /** Deadline of each Redis call on the request path. Default 250. */
  readonly redisTimeoutMs?: number
  /** Circuit breaker in front of Redis: failures that open it (default 3), for how long (default 1000 ms); strict checks go to PostgreSQL meanwhile. */
  readonly breaker?: { readonly failureThreshold?: number; readonly openMs?: number }
  /** `local` mode: re-read changes from PostgreSQL this often while subscribed. Default 30 000; `false`: never. */
  readonly syncIntervalMs?: number | false
  /** `local` mode: re-read changes this often while the subscription is down. Default 1000; `false`: only after reconnect. */
  readonly outageSyncIntervalMs?: number | false
  /** How far back (seconds) each catch-up re-reads, for transactions that committed late. Default 60. */
  readonly catchUpOverlapSeconds?: number
  /** `strict` mode: most keys read by one `MGET` or query (two or three per check). Default 500. */
  readonly maxBatchSize?: number
  /** Called when something fails in the background or on the write path. Default: one process warning per operation. */
  readonly onError?: (error: unknown, context: { readonly operation: RevocationOperation }) => void
  /** Milliseconds since the epoch (Redis `EX` of entries, expiry of the memory list). Default `Date.now`. */
  readonly clock?: Clock
  /**
   * The change log ({@link createChangeLog} on the same database): every revocation recorded in
   * PostgreSQL, by any instance or writer, is then read by this one within about two
   * `pollIntervalMs`, whatever Redis does (also a revocation made on an instance that cannot
   * reach Redis).
   */
  readonly changes?: ChangeLog
}

/** Default options of {@link createRevocationList}. */
export const REVOCATION_LIST_DEFAULTS = Object.freeze({
  keyPrefix: 'af:',
  mode: 'local' as RevocationMode,
  max: 100_000,
  pageSize: 1000,
  redisTimeoutMs: 250,
  syncIntervalMs: 30_000,
  outageSyncIntervalMs: 1000,
  catchUpOverlapSeconds: 60,
  maxBatchSize: 500,
})

/** The options once checked, every default applied. */
export interface ResolvedRevocationListOptions {
  readonly redis: RedisClient
  /** Exactly one of `pool` and `source` is set. */
  readonly pool: PostgresQueryable | undefined
  readonly source: RevocationSource | undefined
  readonly keyPrefix: string
  readonly mode: RevocationMode
  readonly max: number
  readonly pageSize: number
  readonly maxBatchSize: number
  readonly redisTimeoutMs: number
  /** Checked by `createCircuitBreaker`. */
  readonly breaker: { readonly failureThreshold: number; readonly openMs: number }
  readonly syncIntervalMs: number | false
  readonly outageSyncIntervalMs: number | false
  readonly catchUpOverlapSeconds: number
  readonly heartbeat: Required<SubscriptionOptions>
  readonly onError: RevocationListOptions['onError']
  readonly clock: Clock
  readonly changes: ChangeLog | undefined
}

const WHERE = 'createRevocationList'

function intervalOrFalse(value: number | false, name: string, example: number): number | false {
  if (value === false) return false
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    invalid(WHERE, name, 'a positive number of milliseconds or false', example)
  }
  return value
}

function checkSource(options: RevocationListOptions): RevocationSource | undefined {
  if ((options.pool === undefined) === (options.source === undefined)) {
    invalid(WHERE, 'pool or source', 'given, not both', '{ redis, pool }')
  }
  const source = options.source
  for (const method of ['insert', 'now', 'page', 'findLive'] as const) {
    if (source !== undefined && typeof source[method] !== 'function') {
      invalid(WHERE, `source.${method}`, 'a function', 'postgresRevocationSource({ pool })')
    }
  }
  return source
}

/**
 * Checks the options of {@link createRevocationList} and applies the defaults.
 *
 * @example
 * const resolved = resolveRevocationListOptions({ redis, pool, mode: 'strict' })
 * resolved.maxBatchSize // 500
 */
export function resolveRevocationListOptions(
  options: RevocationListOptions,
): ResolvedRevocationListOptions {
  plainObject(options, 'options', '{ redis, pool }', WHERE)
  const redis = options.redis
  if (!isRedisClient(redis)) {
    invalid(WHERE, 'redis', 'an ioredis client or Cluster', 'new Redis(url, options)')
  }
  const source = checkSource(options)
  const d = REVOCATION_LIST_DEFAULTS
  const keyPrefix = options.keyPrefix ?? d.keyPrefix
  if (typeof keyPrefix !== 'string') invalid(WHERE, 'keyPrefix', 'a string', "'af:'")
  const integer = (value: number | undefined, name: string, fallback: number) =>
    positiveInteger(value ?? fallback, name, fallback, WHERE)
  return Object.freeze({
    redis,
    pool: options.pool,
    source,
    keyPrefix,
    mode: oneOf(options.mode ?? d.mode, 'mode', ['local', 'strict'], WHERE),
    max: integer(options.max, 'max', d.max),
    pageSize: integer(options.pageSize, 'pageSize', d.pageSize),
    maxBatchSize: integer(options.maxBatchSize, 'maxBatchSize', d.maxBatchSize),
    redisTimeoutMs: integer(options.redisTimeoutMs, 'redisTimeoutMs', d.redisTimeoutMs),
    breaker: Object.freeze({
      failureThreshold: options.breaker?.failureThreshold ?? 3,
      openMs: options.breaker?.openMs ?? 1000,
    }),
    syncIntervalMs: intervalOrFalse(
      options.syncIntervalMs ?? d.syncIntervalMs,
      'syncIntervalMs',
      d.syncIntervalMs,
    ),
    outageSyncIntervalMs: intervalOrFalse(
      options.outageSyncIntervalMs ?? d.outageSyncIntervalMs,
      'outageSyncIntervalMs',
      d.outageSyncIntervalMs,
    ),
    catchUpOverlapSeconds: nonNegative(
      options.catchUpOverlapSeconds ?? d.catchUpOverlapSeconds,
      'catchUpOverlapSeconds',
      d.catchUpOverlapSeconds,
      WHERE,
      true,
    ),
    heartbeat: resolveSubscriptionOptions(options, WHERE),
    onError: options.onError,
    clock: options.clock ?? Date.now,
    changes: options.changes,
  })
}
