/**
 * The guarded query runner: the one way every PostgreSQL user of the core reaches the database
 * (deadline, destroy-on-timeout, server-side timeout, bounded wait queue, circuit breaker), one
 * runner per pool. The run of each unit of work is `postgres-guard.ts`; the pool itself (defaults,
 * ending it) is `postgres-pool.ts`; what a failure means is `postgres-failures.ts`.
 */
import type { AuthMetrics } from '../metrics/metrics.js'
import type { PostgresPool as Pool, QueryConfig, QueryResult } from '../peer-types.js'
import type { Clock } from '../types.js'
import { invalid, positiveInteger, positiveNumber } from '../validate.js'
import {
  type CircuitBreakerOptions,
  type CircuitState,
  createCircuitBreaker,
} from './circuit-breaker.js'
import {
  connectionIsSound,
  isInfrastructureFailure,
  PostgresCommitUnknownError,
} from './postgres-failures.js'
import { createGuard, type Guard, type RunnerPool, runGuarded } from './postgres-guard.js'

/** What every PostgreSQL user of the core needs of a pool: `pg.Pool` or a pg-pool `Pool`. */
export type PostgresQueryable = Pick<Pool, 'query'>

/** Default options of {@link createPostgresRunner}. */
export const POSTGRES_RUNNER_DEFAULTS = Object.freeze({
  timeoutMs: 2000,
  maxWaiting: 100,
  failureThreshold: 3,
  openMs: 500,
  probeTimeoutMs: 500,
  statementTimeoutSlackMs: 500,
})

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

const runners = new WeakMap<object, PostgresRunner>()
const WHERE = 'createPostgresRunner'

/**
 * `pool` checked as something to query (a `pg` Pool); otherwise the kit's `TypeError`, naming
 * `where`.
 *
 * @example
 * const pool = queryablePool(options.pool, 'postgresSource')
 */
export function queryablePool<P extends PostgresQueryable = PostgresQueryable>(
  pool: unknown,
  where: string,
): P {
  if (typeof (pool as Partial<PostgresQueryable> | null)?.query !== 'function') {
    invalid(where, 'pool', 'a pg Pool', 'new pg.Pool(config)')
  }
  return pool as P
}

/**
 * `BEGIN`, `work`, `COMMIT` on one connection under one deadline. A COMMIT that never arrives (or
 * arrives late) cannot commit after the server's idle-in-transaction timeout: it bounds how long
 * the outcome of a lost COMMIT stays open.
 */
function runTransaction<T>(
  guard: Guard,
  work: (tx: PostgresTransaction) => Promise<T>,
  timeoutMs: number,
): Promise<T> {
  const serverMs = Math.ceil(timeoutMs) + guard.statementTimeoutSlackMs
  return runGuarded(
    guard,
    timeoutMs,
    async (exec) => {
      await exec({
        text: guard.serverTimeout
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
            { cause: error, settledAfterMs: guard.serverTimeout ? 2 * serverMs : undefined },
          )
        }
        throw error
      }
      return result
    },
    // any failure inside a transaction: the connection is destroyed, the server rolls back
    () => false,
  )
}

function statsOf(guard: Guard): PostgresRunnerStats {
  const { target, counts } = guard
  return {
    breaker: guard.breaker.state,
    ...counts,
    pool:
      typeof target.totalCount === 'number'
        ? {
            total: target.totalCount,
            idle: target.idleCount ?? 0,
            waiting: target.waitingCount ?? 0,
          }
        : undefined,
  }
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
  const target = queryablePool<RunnerPool>(pool, WHERE)
  if (runners.has(target)) {
    throw new TypeError(
      'createPostgresRunner: this pool already has a runner; create it once, before the components that use the pool.',
    )
  }
  const d = POSTGRES_RUNNER_DEFAULTS
  const defaultTimeoutMs = positiveNumber(
    options.timeoutMs ?? d.timeoutMs,
    'timeoutMs',
    d.timeoutMs,
    WHERE,
  )
  const guard = createGuard(target, {
    maxWaiting: positiveInteger(
      options.maxWaiting ?? d.maxWaiting,
      'maxWaiting',
      d.maxWaiting,
      WHERE,
    ),
    probeTimeoutMs: positiveNumber(
      options.probeTimeoutMs ?? d.probeTimeoutMs,
      'probeTimeoutMs',
      d.probeTimeoutMs,
      WHERE,
    ),
    serverTimeout: options.serverTimeout ?? true,
    statementTimeoutSlackMs: d.statementTimeoutSlackMs,
    breaker: createCircuitBreaker({
      failureThreshold: options.breaker?.failureThreshold ?? d.failureThreshold,
      openMs: options.breaker?.openMs ?? d.openMs,
      clock: options.clock,
    }),
    metrics: options.metrics,
  })
  const runner: PostgresRunner = {
    query(query, queryOptions) {
      const timeoutMs = queryOptions?.timeoutMs ?? defaultTimeoutMs
      return runGuarded(guard, timeoutMs, (exec) => exec(query), connectionIsSound)
    },
    transaction(work, transactionOptions) {
      return runTransaction(guard, work, transactionOptions?.timeoutMs ?? defaultTimeoutMs)
    },
    stats: () => statsOf(guard),
    get breakerState() {
      return guard.breaker.state
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
