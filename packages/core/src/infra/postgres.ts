/** A `pg` pool with production defaults, loaded only when asked for (`pg` is an optional peer). */
import { createRequire } from 'node:module'
import type { PostgresPool as Pool, PoolConfig } from '../peer-types.js'

/**
 * Pool defaults used when the library creates the pool. Times are in the units `pg` expects:
 * `*Millis` and the three session timeouts in milliseconds, `maxLifetimeSeconds` in seconds.
 *
 * - `max` 50 and `min` 10 connections. In pg-pool, `min` is a floor for idle eviction (idle
 *   connections are not closed below it); connections are still opened on demand, not up front.
 * - `connectionTimeoutMillis` 30 s to acquire a connection, `idleTimeoutMillis` 600 s,
 *   `maxLifetimeSeconds` 1800.
 * - Session settings sent at connect time: `application_name=auth_framework`,
 *   `statement_timeout=30s`, `lock_timeout=10s`, `idle_in_transaction_session_timeout=60s`.
 * - `allowExitOnIdle`: an idle pool does not keep the process alive.
 */
export const POSTGRES_POOL_DEFAULTS = Object.freeze({
  max: 50,
  min: 10,
  connectionTimeoutMillis: 30_000,
  idleTimeoutMillis: 600_000,
  maxLifetimeSeconds: 1800,
  application_name: 'auth_framework',
  statement_timeout: 30_000,
  lock_timeout: 10_000,
  idle_in_transaction_session_timeout: 60_000,
  allowExitOnIdle: true,
} satisfies PoolConfig)

/** What every PostgreSQL user of the core needs of a pool: `pg.Pool` or a pg-pool `Pool`. */
export type PostgresQueryable = Pick<Pool, 'query'>

/** Any `pg` pool option; each one overrides the matching {@link POSTGRES_POOL_DEFAULTS} entry. */
export type PostgresPoolOptions = PoolConfig

const NUMERIC_OPTIONS = [
  'max',
  'min',
  'connectionTimeoutMillis',
  'idleTimeoutMillis',
  'maxLifetimeSeconds',
  'lock_timeout',
  'idle_in_transaction_session_timeout',
] as const

/** The configuration {@link createPostgresPool} passes to `pg.Pool`: defaults, then `options`. */
export function resolvePostgresPoolConfig(options: PostgresPoolOptions = {}): PoolConfig {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('createPostgresPool(options): options must be an object.')
  }
  const config: PoolConfig = { ...POSTGRES_POOL_DEFAULTS, ...options }
  for (const name of NUMERIC_OPTIONS) {
    const value = config[name]
    if (
      value !== undefined &&
      (typeof value !== 'number' || !Number.isFinite(value) || value < 0)
    ) {
      throw new TypeError(`createPostgresPool: ${name} must be a non-negative number.`)
    }
  }
  if (!Number.isInteger(config.max) || (config.max ?? 0) < 1) {
    throw new TypeError('createPostgresPool: max must be a positive integer, e.g. 50.')
  }
  // A floor above the ceiling would only keep every connection forever.
  if ((config.min ?? 0) > (config.max ?? 0)) config.min = config.max
  return config
}

/**
 * Creates a `pg` pool with {@link POSTGRES_POOL_DEFAULTS}; every option can be overridden. The
 * pool gets an `error` listener, so an idle connection dropped by the server cannot crash the
 * process. Requires the optional peer dependency `pg`.
 *
 * @example
 * const pool = createPostgresPool({ connectionString: process.env.DATABASE_URL, max: 20 })
 * await migrate(pool)
 * const source = postgresSource({ pool })
 */
export function createPostgresPool(options: PostgresPoolOptions = {}): Pool {
  const config = resolvePostgresPoolConfig(options)
  let pg: typeof import('pg')
  try {
    pg = createRequire(import.meta.url)('pg') as typeof import('pg')
  } catch (error) {
    throw new TypeError(
      'createPostgresPool: the `pg` package is not installed. Add it to your dependencies (npm install pg).',
      { cause: error },
    )
  }
  const pool = new pg.Pool(config)
  pool.on('error', () => {
    // An idle client failed (server restart, network cut). pg-pool has already removed it;
    // the next query opens a fresh connection.
  })
  return pool
}
