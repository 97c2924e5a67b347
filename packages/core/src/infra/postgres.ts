/**
 * PostgreSQL for the core: a `pg` pool with production defaults, loaded only when asked for (`pg`
 * is an optional peer), and the one guarded query runner every PostgreSQL user of the core goes
 * through (deadline, destroy-on-timeout, server-side timeout, bounded wait queue, circuit breaker).
 */
import { createRequire } from 'node:module'
import type { AuthMetrics } from '../metrics/metrics.js'
import type {
  PostgresPool as Pool,
  PoolClient,
  PoolConfig,
  QueryConfig,
  QueryResult,
} from '../peer-types.js'
import type { Clock } from '../types.js'
import { createWarnOnce } from '../warn-once.js'
import {
  type CircuitBreakerOptions,
  CircuitOpenError,
  type CircuitState,
  createCircuitBreaker,
} from './circuit-breaker.js'
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

/** What every PostgreSQL user of the core needs of a pool: `pg.Pool` or a pg-pool `Pool`. */
export type PostgresQueryable = Pick<Pool, 'query'>

/** Any `pg` pool option; each one overrides the matching {@link POSTGRES_POOL_DEFAULTS} entry. */
export type PostgresPoolOptions = PoolConfig

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

// --- the guarded query runner ------------------------------------------------------------------

/** Default options of {@link createPostgresRunner}. */
export const POSTGRES_RUNNER_DEFAULTS = Object.freeze({
  timeoutMs: 2000,
  maxWaiting: 100,
  failureThreshold: 3,
  openMs: 500,
  probeTimeoutMs: 500,
  statementTimeoutSlackMs: 500,
})

/** A query was refused at once: `maxWaiting` checkouts already wait for a connection. */
export class PostgresBusyError extends Error {
  override readonly name = 'PostgresBusyError'
  constructor(maxWaiting: number) {
    super(`PostgreSQL: ${maxWaiting} queries already wait for a connection; this one was refused.`)
  }
}

/**
 * The deadline passed while COMMIT was on its way: the transaction may or may not have committed.
 * `cause` is the timeout or connection error. `settledAfterMs`: from when this error is raised, the
 * server's own timeouts have decided the transaction's fate after at most this long (its
 * `idle_in_transaction_session_timeout` for a COMMIT still on its way, then its `statement_timeout`);
 * `undefined` when the runner does not set them (`serverTimeout: false`).
 */
export class PostgresCommitUnknownError extends Error {
  override readonly name = 'PostgresCommitUnknownError'
  readonly settledAfterMs: number | undefined
  constructor(message: string, options: { cause: unknown; settledAfterMs: number | undefined }) {
    super(message, { cause: options.cause })
    this.settledAfterMs = options.settledAfterMs
  }
}

export interface PostgresRunnerOptions {
  /** Deadline of one query (or transaction), checkout included, when the caller gives none. Default 2000. */
  readonly timeoutMs?: number
  /** Most checkouts waiting for a connection; beyond it a query is refused at once. Default 100. */
  readonly maxWaiting?: number
  /** Failures in a row that open the breaker (default 3), and for how long (default 500 ms). */
  readonly breaker?: Pick<CircuitBreakerOptions, 'failureThreshold' | 'openMs'>
  /** Deadline of the `SELECT 1` (checkout included) that probes a half-open breaker. Default 500. */
  readonly probeTimeoutMs?: number
  /**
   * Set `statement_timeout` on each connection the runner uses to the query's deadline + 500 ms, so
   * the server gives up on work nobody waits for. Default `true`; `false` leaves connections alone.
   */
  readonly serverTimeout?: boolean
  /** Records `latency.postgres` and `infrastructureErrors.postgres`. */
  readonly metrics?: AuthMetrics | undefined
  /** Milliseconds since the epoch, for the breaker. Default `Date.now`. */
  readonly clock?: Clock
}

/** What an operator looks at: {@link PostgresRunner.stats}. */
export interface PostgresRunnerStats {
  readonly breaker: CircuitState
  /** Checkouts of this runner waiting for a connection now. */
  readonly waiting: number
  /** Queries of this runner running now. */
  readonly active: number
  /** Counters since start: deadlines passed, refusals (wait queue full, breaker open), connections destroyed. */
  readonly timeouts: number
  readonly refusedBusy: number
  readonly refusedOpen: number
  readonly destroyed: number
  /** The pool's own counts, when it has them (`pg.Pool`). */
  readonly pool:
    | { readonly total: number; readonly idle: number; readonly waiting: number }
    | undefined
}

/** What a transaction's work may run: queries on the transaction's connection, under its deadline. */
export interface PostgresTransaction {
  query<R = Record<string, unknown>>(query: QueryConfig): Promise<QueryResult<R>>
}

/** The guarded way to PostgreSQL: {@link createPostgresRunner}. */
export interface PostgresRunner {
  /** Runs one query under the deadline (checkout included); see {@link createPostgresRunner}. */
  query<R = Record<string, unknown>>(
    query: QueryConfig,
    options?: { readonly timeoutMs?: number },
  ): Promise<QueryResult<R>>
  /**
   * `BEGIN`, `work`, `COMMIT` on one connection, all under one deadline. Any failure before COMMIT
   * destroys the connection (the server rolls back); a deadline or connection loss during COMMIT
   * rejects with {@link PostgresCommitUnknownError}.
   */
  transaction<T>(
    work: (tx: PostgresTransaction) => Promise<T>,
    options?: { readonly timeoutMs?: number },
  ): Promise<T>
  stats(): PostgresRunnerStats
  readonly breakerState: CircuitState
}

type RunnerPool = PostgresQueryable & {
  connect?: () => Promise<PoolClient>
  readonly options?: {
    readonly max?: number | undefined
    readonly connectionTimeoutMillis?: number | undefined
    readonly statement_timeout?: number | false | undefined
  }
  readonly totalCount?: number
  readonly idleCount?: number
  readonly waitingCount?: number
}

const runners = new WeakMap<object, PostgresRunner>()
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
const warnPool = createWarnOnce('AUTHFRAMEWORK_POSTGRES_POOL')

/** SQLSTATE classes that say the database (or the way to it) failed, not the statement. */
function isInfrastructureFailure(error: unknown): boolean {
  if (error instanceof TimeoutError || error instanceof PostgresCommitUnknownError) return true
  const code = (error as { code?: unknown } | null)?.code
  if (typeof code !== 'string' || !/^[0-9A-Z]{5}$/.test(code)) return true // network, pool, driver
  return /^(08|53|57P0)/.test(code) || code === '57014'
}

/** A statement error leaves the connection usable; anything else (a deadline, a socket) does not. */
function connectionIsSound(error: unknown): boolean {
  return !isInfrastructureFailure(error) || (error as { code?: unknown }).code === '57014'
}

function positiveNumber(value: unknown, name: string, fallback: number): number {
  const v = value ?? fallback
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
    throw new TypeError(
      `createPostgresRunner: ${name} must be a positive number, e.g. ${fallback}.`,
    )
  }
  return v
}

/**
 * Creates the guarded query runner of a pool and makes it the one every component of the core uses
 * with that pool (create it before them to change its options; {@link postgresRunner} creates one
 * with the defaults otherwise). Each query:
 *
 * - is refused at once (`PostgresBusyError`) when `maxWaiting` checkouts already wait for a
 *   connection, and (`CircuitOpenError`) while the breaker is open: `failureThreshold` failures in a
 *   row (deadlines, connection errors) open it for `openMs`; then one call probes with `SELECT 1`;
 * - checks a connection out itself and runs under one deadline, checkout included; when the
 *   deadline passes, the connection is destroyed (`release(error)`), never returned with a query
 *   in flight, and a checkout that completes late is handed straight back;
 * - has `statement_timeout` set on its connection to the deadline + 500 ms (once per connection),
 *   so the server does not keep working for a client that gave up.
 *
 * Something that is not a pool (a `pg.Client`, a stand-in with only `query`) gets the deadline and
 * the breaker only.
 *
 * @example
 * const pool = createPostgresPool({ connectionString: process.env.DATABASE_URL })
 * const runner = createPostgresRunner(pool, { maxWaiting: 200, metrics })
 * const store = createPermissionStore({ source: postgresSource({ pool }) }) // goes through `runner`
 * runner.stats() // { breaker: 'closed', waiting: 0, active: 0, ..., pool: { total, idle, waiting } }
 */
export function createPostgresRunner(
  pool: PostgresQueryable,
  options: PostgresRunnerOptions = {},
): PostgresRunner {
  const target = pool as RunnerPool
  if (typeof target?.query !== 'function') {
    throw new TypeError('createPostgresRunner: pool must be a pg Pool (new pg.Pool(config)).')
  }
  if (runners.has(target)) {
    throw new TypeError(
      'createPostgresRunner: this pool already has a runner; create it once, before the components that use the pool.',
    )
  }
  const d = POSTGRES_RUNNER_DEFAULTS
  const defaultTimeoutMs = positiveNumber(options.timeoutMs, 'timeoutMs', d.timeoutMs)
  const maxWaiting = options.maxWaiting ?? d.maxWaiting
  if (!Number.isInteger(maxWaiting) || maxWaiting < 1) {
    throw new TypeError('createPostgresRunner: maxWaiting must be a positive integer, e.g. 100.')
  }
  const probeTimeoutMs = positiveNumber(options.probeTimeoutMs, 'probeTimeoutMs', d.probeTimeoutMs)
  const serverTimeout = options.serverTimeout ?? true
  const metrics = options.metrics
  const breaker = createCircuitBreaker({
    failureThreshold: options.breaker?.failureThreshold ?? d.failureThreshold,
    openMs: options.breaker?.openMs ?? d.openMs,
    clock: options.clock,
  })
  // called through the pool each time (not bound now), so that wrappers added later see it
  // (a `pg.Client` has `connect` too, but it opens the client itself: it is used through `query`)
  const connect =
    typeof target.connect === 'function' && 'idleCount' in target
      ? () => target.connect!()
      : undefined
  /** A `statement_timeout` the pool's connections start with: a stricter one is left alone. */
  const configured =
    typeof target.options?.statement_timeout === 'number' && target.options.statement_timeout > 0
      ? target.options.statement_timeout
      : undefined
  if (
    connect !== undefined &&
    target.options !== undefined &&
    !target.options.connectionTimeoutMillis
  ) {
    warnPool(
      'connectionTimeoutMillis',
      undefined,
      () =>
        'A PostgreSQL pool without connectionTimeoutMillis: a connection opened into a network black hole holds a pool slot until TCP gives up. Set it (createPostgresPool uses 2000).',
    )
  }
  /** The `statement_timeout` each connection was given. */
  const settings = new WeakMap<PoolClient, number>()
  let waiting = 0
  let active = 0
  let timeouts = 0
  let refusedBusy = 0
  let refusedOpen = 0
  let destroyed = 0

  function checkout(timeoutMs: number): Promise<PoolClient> {
    waiting++
    const pending = connect!()
      .then(holdConnection)
      .finally(() => {
        waiting--
      })
    return withTimeout(pending, timeoutMs, 'PostgreSQL checkout').catch((error: unknown) => {
      // a connection that arrives after the deadline goes straight back to the pool
      if (error instanceof TimeoutError)
        pending.then(
          (client) => giveBack(client),
          () => {},
        )
      throw error
    })
  }

  /** Returns a connection to the pool, or destroys it (`failure`). */
  function giveBack(client: PoolClient, failure?: Error | true): void {
    if (failure === undefined) client.release()
    else {
      destroyed++
      client.release(failure)
    }
  }

  /** Runs `work` with a connection under a deadline of `timeoutMs`; `sound` says whether a failed connection may be reused. */
  async function guarded<T>(
    timeoutMs: number,
    work: (exec: <R>(query: QueryConfig, capMs?: number) => Promise<QueryResult<R>>) => Promise<T>,
    sound: (error: unknown) => boolean,
  ): Promise<T> {
    // checkouts that idle connections or free slots serve at once do not count as waiting
    const free =
      (target.idleCount ?? 0) + Math.max(0, (target.options?.max ?? 0) - (target.totalCount ?? 0))
    if (waiting >= maxWaiting + free) {
      refusedBusy++
      metrics?.infrastructureError('postgres')
      throw new PostgresBusyError(maxWaiting)
    }
    const probe = breaker.state !== 'closed'
    if (!breaker.allow()) {
      refusedOpen++
      metrics?.infrastructureError('postgres')
      throw new CircuitOpenError('PostgreSQL')
    }
    const started = performance.now()
    const remaining = () => Math.max(1, Math.ceil(timeoutMs - (performance.now() - started)))
    const statementTimeout = Math.ceil(timeoutMs) + d.statementTimeoutSlackMs
    const setServerTimeout =
      serverTimeout && (configured === undefined || configured > statementTimeout)
    let client: PoolClient | undefined
    active++
    try {
      const result = await (async () => {
        if (connect === undefined) {
          const exec = <R>(query: QueryConfig, capMs = Number.POSITIVE_INFINITY) =>
            withTimeout(
              // an unnamed statement as (text, values): what a stand-in with only that form takes
              (query.name === undefined
                ? target.query(query.text, query.values)
                : target.query(query)) as Promise<QueryResult<R>>,
              Math.min(remaining(), capMs),
              'PostgreSQL',
            )
          if (probe) await exec({ text: 'SELECT 1' }, probeTimeoutMs)
          return work(exec)
        }
        const checkoutMs = probe ? Math.min(timeoutMs, probeTimeoutMs) : timeoutMs
        try {
          client = await checkout(checkoutMs)
        } catch (error) {
          // A connection opened during an outage fails its waiter when it gives up, even though
          // the network may be back: one more checkout (a fresh connection) within the deadline.
          if (error instanceof TimeoutError || remaining() <= 1) throw error
          client = await checkout(Math.min(remaining(), checkoutMs))
        }
        const held = client
        const exec = <R>(query: QueryConfig, capMs = Number.POSITIVE_INFINITY) =>
          withTimeout(
            held.query(query) as Promise<QueryResult<R>>,
            Math.min(remaining(), capMs),
            'PostgreSQL',
          )
        if (setServerTimeout && settings.get(held) !== statementTimeout) {
          await exec({ text: `SET statement_timeout = ${statementTimeout}` })
          settings.set(held, statementTimeout)
        }
        if (probe) await exec({ text: 'SELECT 1' }, probeTimeoutMs)
        return work(exec)
      })()
      if (client !== undefined) giveBack(client)
      breaker.success()
      metrics?.timing('postgres', performance.now() - started)
      return result
    } catch (error) {
      if (error instanceof TimeoutError || (error as Error)?.cause instanceof TimeoutError) {
        timeouts++
      }
      if (client !== undefined) {
        giveBack(client, sound(error) ? undefined : error instanceof Error ? error : true)
      }
      if (isInfrastructureFailure(error)) {
        breaker.failure()
        metrics?.infrastructureError('postgres')
      } else breaker.success()
      throw error
    } finally {
      active--
    }
  }

  const runner: PostgresRunner = {
    query(query, queryOptions) {
      const timeoutMs = queryOptions?.timeoutMs ?? defaultTimeoutMs
      return guarded(timeoutMs, (exec) => exec(query), connectionIsSound)
    },
    transaction(work, transactionOptions) {
      const timeoutMs = transactionOptions?.timeoutMs ?? defaultTimeoutMs
      const serverMs = Math.ceil(timeoutMs) + d.statementTimeoutSlackMs
      return guarded(
        timeoutMs,
        async (exec) => {
          // a COMMIT that never arrives (or arrives late) cannot commit after the server's
          // idle-in-transaction timeout: it bounds how long the outcome of a lost COMMIT stays open
          await exec({
            text: serverTimeout
              ? `BEGIN; SET LOCAL idle_in_transaction_session_timeout = ${serverMs}`
              : 'BEGIN',
          })
          const result = await work({ query: <R>(q: QueryConfig) => exec<R>(q) })
          try {
            await exec({ text: 'COMMIT' })
          } catch (error) {
            if (isInfrastructureFailure(error)) {
              throw new PostgresCommitUnknownError(
                'PostgreSQL: the deadline passed or the connection failed during COMMIT; the transaction may have committed.',
                { cause: error, settledAfterMs: serverTimeout ? 2 * serverMs : undefined },
              )
            }
            throw error
          }
          return result
        },
        // any failure inside a transaction: the connection is destroyed, the server rolls back
        () => false,
      )
    },
    stats() {
      return {
        breaker: breaker.state,
        waiting,
        active,
        timeouts,
        refusedBusy,
        refusedOpen,
        destroyed,
        pool:
          typeof target.totalCount === 'number'
            ? {
                total: target.totalCount,
                idle: target.idleCount ?? 0,
                waiting: target.waitingCount ?? 0,
              }
            : undefined,
      }
    },
    get breakerState() {
      return breaker.state
    },
  }
  runners.set(target, runner)
  return runner
}

/**
 * The runner every component of the core uses with `pool`: the one made by
 * {@link createPostgresRunner}, or one with {@link POSTGRES_RUNNER_DEFAULTS} made now.
 *
 * @example
 * postgresRunner(pool).stats().breaker // 'closed'
 */
export function postgresRunner(pool: PostgresQueryable): PostgresRunner {
  return runners.get(pool) ?? createPostgresRunner(pool)
}

/**
 * The runner made for `pool` so far, without making one: what a read-only observer (the metrics'
 * `watch`) uses, so that looking never fixes the runner's options before the application does.
 *
 * @example
 * existingPostgresRunner(pool)?.stats().breaker // undefined until a component used the pool
 */
export function existingPostgresRunner(pool: PostgresQueryable): PostgresRunner | undefined {
  return runners.get(pool)
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
