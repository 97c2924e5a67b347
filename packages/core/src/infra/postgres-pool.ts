/**
 * The `pg` pool of the core: production defaults, loaded only when asked for (`pg` is an optional
 * peer), ended within a deadline whatever the network does, and connections made safe to hold.
 * Queries go through the guarded runner (`postgres.ts`).
 */
import { createRequire } from 'node:module'
import type { PostgresPool as Pool, PoolClient, PoolConfig } from '../peer-types.js'
import { nonNegative, plainObject, positiveInteger } from '../validate.js'
import { TimeoutError, withTimeout } from './deadline.js'

/**
 * Pool defaults used when the library creates the pool. Times are in the units `pg` expects:
 * `*Millis` and the three session timeouts in milliseconds, `maxLifetimeSeconds` in seconds.
 *
 * - `max` 50 and `min` 10 connections. In pg-pool, `min` is a floor for idle eviction (idle
 *   connections are not closed below it); connections are still opened on demand, not up front.
 * - `connectionTimeoutMillis` 2000: the most a new connection may take to open, and the most a
 *   checkout waits for a free one (a connection opened into a black hole is given up after it, so
 *   it cannot hold a pool slot past the outage). `idleTimeoutMillis` 600 s, `maxLifetimeSeconds` 1800.
 * - `keepAlive` (TCP keep-alive probes after 10 s idle): a peer that vanished is noticed.
 * - Session settings sent at connect time: `application_name=auth_framework`,
 *   `statement_timeout=30s`, `lock_timeout=10s`, `idle_in_transaction_session_timeout=60s`.
 * - `allowExitOnIdle`: an idle pool does not keep the process alive.
 */
export const POSTGRES_POOL_DEFAULTS = Object.freeze({
  max: 50,
  min: 10,
  connectionTimeoutMillis: 2000,
  keepAlive: true,
  keepAliveInitialDelayMillis: 10_000,
  idleTimeoutMillis: 600_000,
  maxLifetimeSeconds: 1800,
  application_name: 'auth_framework',
  statement_timeout: 30_000,
  lock_timeout: 10_000,
  idle_in_transaction_session_timeout: 60_000,
  allowExitOnIdle: true,
} satisfies PoolConfig)

/** Any `pg` pool option; each one overrides the matching {@link POSTGRES_POOL_DEFAULTS} entry. */
export type PostgresPoolOptions = PoolConfig

const WHERE = 'createPostgresPool'

const NUMERIC_OPTIONS = [
  'max',
  'min',
  'connectionTimeoutMillis',
  'keepAliveInitialDelayMillis',
  'idleTimeoutMillis',
  'maxLifetimeSeconds',
  'lock_timeout',
  'idle_in_transaction_session_timeout',
] as const

/**
 * The configuration {@link createPostgresPool} passes to `pg.Pool`: defaults, then `options`.
 *
 * @example
 * resolvePostgresPoolConfig({ max: 20 }).connectionTimeoutMillis // 2000
 */
export function resolvePostgresPoolConfig(options: PostgresPoolOptions = {}): PoolConfig {
  plainObject(options, 'options', '{ connectionString }', WHERE)
  const config: PoolConfig = { ...POSTGRES_POOL_DEFAULTS, ...options }
  for (const name of NUMERIC_OPTIONS) {
    const value = config[name]
    if (value !== undefined) nonNegative(value, name, POSTGRES_POOL_DEFAULTS[name], WHERE)
  }
  positiveInteger(config.max, 'max', POSTGRES_POOL_DEFAULTS.max, WHERE)
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

const swallowHeldError = () => {}
/** Connections that carry {@link swallowHeldError} (once each, for their whole life). */
const listening = new WeakSet<object>()

/**
 * Makes a checked-out connection safe to hold. The pool listens for errors of idle connections
 * only: a held connection whose socket fails emits 'error' with no listener, which would end the
 * process. The query in flight fails with the same error, so nothing is lost by swallowing it
 * here. The listener stays for the connection's life: a destroyed one may emit again as it closes.
 */
export function holdConnection<C extends Pick<PoolClient, 'on'>>(client: C): C {
  if (!listening.has(client)) {
    listening.add(client)
    client.on('error', swallowHeldError)
  }
  return client
}

/**
 * Ends a pool within `timeoutMs`, whatever the network does: `pool.end()`, and when it has not
 * resolved by then (a connection whose peer vanished waits for TCP to give up), the sockets still
 * open are destroyed. Resolves `true` when the pool ended by itself.
 *
 * @example
 * await endPostgresPool(pool, 5000)
 */
export async function endPostgresPool(pool: Pick<Pool, 'end'>, timeoutMs = 5000): Promise<boolean> {
  const ending = pool.end()
  try {
    await withTimeout(ending, timeoutMs, 'PostgreSQL pool end')
    return true
  } catch (error) {
    if (!(error instanceof TimeoutError)) throw error
    // pg-pool keeps its connections in `_clients`; each has its socket at `connection.stream`
    const clients = (pool as { _clients?: { connection?: { stream?: { destroy(): void } } }[] })
      ._clients
    for (const client of clients ?? []) client.connection?.stream?.destroy()
    await withTimeout(ending, 1000, 'PostgreSQL pool end').catch(() => {})
    return false
  }
}
