/**
 * With `REDIS_URL` and `DATABASE_URL`: what the instances of one deployment share. Permissions
 * read through memory, then Redis, then PostgreSQL; revocations (`POST /logout`) are recorded in
 * PostgreSQL and published through Redis to every instance; failed logins are counted in Redis.
 * PostgreSQL is the record: the change log carries every change to every instance within about
 * half a second whatever Redis does.
 */
import {
  type AuthMetrics,
  createChangeLog,
  createPermissionStore,
  createRevocationList,
  type DistributedRevocationList,
  memoryLayer,
  type PermissionStore,
  postgresSource,
  redisLayer,
  shutdown,
} from '@authframework/core'
import { createRateLimiter, type RateLimiter } from '@authframework/core/login'
import { Redis } from 'ioredis'
import type pg from 'pg'

/** What an auth instance takes from the shared services (spread into its options). */
export interface SharedAuthOptions {
  /** Token permissions plus the user's roles in PostgreSQL; a user absent or inactive: 401. */
  readonly permissions: { readonly store: PermissionStore; readonly merge: 'union' }
  readonly revocation: DistributedRevocationList
}

export interface SharedServices {
  readonly authOptions: SharedAuthOptions
  /** Login attempts counted in Redis, so that the limits hold across instances. */
  readonly limiter: RateLimiter
  /** Closes the store, the revocation list, the change log and the Redis client (not the pool), within 5 s. */
  close(): Promise<void>
}

export interface SharedServicesOptions {
  readonly redisUrl: string
  /** A pool on the migrated schema; left open by `close()`. */
  readonly pool: pg.Pool
  /**
   * The metrics given to `createAuth`: the store records its layer hits and latencies there, and
   * they watch the change log, the revocation list and the Redis layer (`metrics.watch`).
   */
  readonly metrics: AuthMetrics
  /** Prefix of every Redis key and channel, the same for every instance. Default `'af:'`. */
  readonly keyPrefix?: string
}

/** `host:port` of a URL: what an error message may say about it (never its password). */
function hostOf(url: string): string {
  try {
    return new URL(url).host
  } catch {
    return 'an unparsable REDIS_URL'
  }
}

/**
 * Connects to Redis, builds the permission store and the distributed revocation list, and waits
 * until both are ready (subscribed, revocations loaded). Fails at start-up if Redis is unreachable.
 *
 * @example
 * const services = await connectSharedServices({ redisUrl, pool, metrics })
 * const auth = createAuth({ ...options, metrics, ...services.authOptions })
 * // on shutdown: await auth.close(); await services.close(); await pool.end()
 */
export async function connectSharedServices(
  options: SharedServicesOptions,
): Promise<SharedServices> {
  const keyPrefix = options.keyPrefix ?? 'af:'
  // Fail fast while Redis is away (the options the core recommends), instead of queueing.
  const redis = new Redis(options.redisUrl, {
    lazyConnect: true,
    enableOfflineQueue: false,
    commandTimeout: 200,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
  })
  // Requests fail closed (503) while Redis is away; say so once per outage, with the code only.
  let reported = false
  redis.on('error', (error: { code?: string; name?: string }) => {
    if (reported) return
    reported = true
    console.warn(`Redis at ${hostOf(options.redisUrl)}: ${error.code ?? error.name ?? 'error'}`)
  })
  redis.on('ready', () => {
    reported = false
  })
  try {
    await redis.connect()
  } catch (error) {
    redis.disconnect()
    throw new Error(`Redis is not reachable at ${hostOf(options.redisUrl)} (REDIS_URL).`, {
      cause: error,
    })
  }

  const changes = createChangeLog({ pool: options.pool })
  const permissionsRedis = redisLayer({ client: redis, keyPrefix, ttlSeconds: 1800 })
  const store = createPermissionStore({
    layers: [memoryLayer({ max: 10_000, ttlSeconds: 60 }), permissionsRedis],
    source: postgresSource({ pool: options.pool }),
    metrics: options.metrics,
    changes,
  })
  const revocation = createRevocationList({ redis, pool: options.pool, keyPrefix, changes })
  const limiter = createRateLimiter({ redis: { client: redis, keyPrefix: `${keyPrefix}login:` } })
  // /metrics shows their state at each scrape: breakers, subscriptions, the log's lag
  const unwatch = options.metrics.watch({ changes, revocation, permissionsRedis })
  async function close(): Promise<void> {
    unwatch()
    // users first, then what they use; bounded even when Redis or PostgreSQL no longer answers
    await shutdown([store, revocation, changes, redis])
  }
  try {
    await Promise.all([store.ready(), revocation.ready(), changes.ready()])
  } catch (error) {
    await close()
    throw error
  }
  return {
    authOptions: { permissions: { store, merge: 'union' }, revocation },
    limiter,
    close,
  }
}
