/**
 * The guarded run of one unit of work on PostgreSQL (a query, or a transaction's statements) and
 * the bookkeeping of one runner: admission (a bounded wait queue, the breaker), a checkout under
 * the unit's deadline (a connection that arrives late goes straight back), `statement_timeout` set
 * once per connection, the half-open probe, the connection returned or destroyed by outcome, and
 * the counters the runner's `stats()` reports. The runner's API is `postgres.ts`.
 */
import type { AuthMetrics } from '../metrics/metrics.js'
import type { PoolClient, QueryConfig, QueryResult } from '../peer-types.js'
import { createWarnOnce } from '../warn-once.js'
import { type CircuitBreaker, CircuitOpenError } from './circuit-breaker.js'
import { TimeoutError, withTimeout } from './deadline.js'
import type { PostgresQueryable } from './postgres.js'
import { isInfrastructureFailure, PostgresBusyError } from './postgres-failures.js'
import { holdConnection } from './postgres-pool.js'

/** What the guard uses of a pool: `query`, and when it is a real pool its connections and counts. */
export type RunnerPool = PostgresQueryable & {
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

/** Runs one statement of the unit under what is left of its deadline (and at most `capMs`). */
export type Exec = <R>(query: QueryConfig, capMs?: number) => Promise<QueryResult<R>>

export interface GuardSettings {
  readonly maxWaiting: number
  readonly probeTimeoutMs: number
  /** Set `statement_timeout` on each connection to the unit's deadline + `statementTimeoutSlackMs`. */
  readonly serverTimeout: boolean
  readonly statementTimeoutSlackMs: number
  readonly breaker: CircuitBreaker
  readonly metrics: AuthMetrics | undefined
}

/** Checkouts waiting and units running now; the rest are counters since start. */
export interface GuardCounts {
  waiting: number
  active: number
  timeouts: number
  refusedBusy: number
  refusedOpen: number
  destroyed: number
}

/** One runner's guard: its settings, what its pool can do, and its counts. */
export interface Guard extends GuardSettings {
  readonly target: RunnerPool
  /** Checks a connection out of a real pool; `undefined` for a stand-in used through `query`. */
  readonly connect: (() => Promise<PoolClient>) | undefined
  /** A `statement_timeout` the pool's connections start with: a stricter one is left alone. */
  readonly configured: number | undefined
  /** The `statement_timeout` each connection was given. */
  readonly statementTimeouts: WeakMap<PoolClient, number>
  readonly counts: GuardCounts
}

const warnPool = createWarnOnce('AUTHFRAMEWORK_POSTGRES_POOL')

/**
 * The guard of a runner over `target`. Warns once when a real pool has no
 * `connectionTimeoutMillis`.
 *
 * @example
 * const guard = createGuard(pool, { maxWaiting: 100, probeTimeoutMs: 500, ... })
 * await runGuarded(guard, 2000, (exec) => exec({ text: 'SELECT 1' }), () => true)
 */
export function createGuard(target: RunnerPool, settings: GuardSettings): Guard {
  // called through the pool each time (not bound now), so that wrappers added later see it
  // (a `pg.Client` has `connect` too, but it opens the client itself: it is used through `query`)
  const connect =
    typeof target.connect === 'function' && 'idleCount' in target
      ? () => target.connect!()
      : undefined
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
  return {
    ...settings,
    target,
    connect,
    configured,
    statementTimeouts: new WeakMap(),
    counts: { waiting: 0, active: 0, timeouts: 0, refusedBusy: 0, refusedOpen: 0, destroyed: 0 },
  }
}

/** Refuses a unit at once (wait queue full, breaker open), or admits it; true when it probes the breaker. */
function admit(guard: Guard): boolean {
  const { target, counts, breaker, metrics } = guard
  // checkouts that idle connections or free slots serve at once do not count as waiting
  const free =
    (target.idleCount ?? 0) + Math.max(0, (target.options?.max ?? 0) - (target.totalCount ?? 0))
  if (counts.waiting >= guard.maxWaiting + free) {
    counts.refusedBusy++
    metrics?.infrastructureError('postgres')
    throw new PostgresBusyError(guard.maxWaiting)
  }
  const probe = breaker.state !== 'closed'
  if (!breaker.allow()) {
    counts.refusedOpen++
    metrics?.infrastructureError('postgres')
    throw new CircuitOpenError('PostgreSQL')
  }
  return probe
}

function checkout(guard: Guard, timeoutMs: number): Promise<PoolClient> {
  const { counts } = guard
  counts.waiting++
  const pending = guard.connect!()
    .then(holdConnection)
    .finally(() => {
      counts.waiting--
    })
  return withTimeout(pending, timeoutMs, 'PostgreSQL checkout').catch((error: unknown) => {
    // a connection that arrives after the deadline goes straight back to the pool
    if (error instanceof TimeoutError)
      pending.then(
        (client) => giveBack(guard, client),
        () => {},
      )
    throw error
  })
}

/** Returns a connection to the pool, or destroys it (`failure`). */
function giveBack(guard: Guard, client: PoolClient, failure?: Error | true): void {
  if (failure === undefined) client.release()
  else {
    guard.counts.destroyed++
    client.release(failure)
  }
}

/** Where a unit stands: its deadline, and the connection it holds (to give back). */
interface Unit {
  readonly timeoutMs: number
  readonly probe: boolean
  readonly remaining: () => number
  client: PoolClient | undefined
}

/** The statements of a unit on a stand-in pool (only `query`): the deadline and the probe. */
async function standInExec(guard: Guard, unit: Unit): Promise<Exec> {
  const { target } = guard
  const exec: Exec = <R>(query: QueryConfig, capMs = Number.POSITIVE_INFINITY) =>
    withTimeout(
      // an unnamed statement as (text, values): what a stand-in with only that form takes
      (query.name === undefined
        ? target.query(query.text, query.values)
        : target.query(query)) as Promise<QueryResult<R>>,
      Math.min(unit.remaining(), capMs),
      'PostgreSQL',
    )
  if (unit.probe) await exec({ text: 'SELECT 1' }, guard.probeTimeoutMs)
  return exec
}

/**
 * Checks a connection out for a unit (held in `unit.client` from then on), sets its
 * `statement_timeout` when due, and probes the breaker when half-open.
 */
async function connectionExec(guard: Guard, unit: Unit): Promise<Exec> {
  const checkoutMs = unit.probe ? Math.min(unit.timeoutMs, guard.probeTimeoutMs) : unit.timeoutMs
  try {
    unit.client = await checkout(guard, checkoutMs)
  } catch (error) {
    // A connection opened during an outage fails its waiter when it gives up, even though
    // the network may be back: one more checkout (a fresh connection) within the deadline.
    if (error instanceof TimeoutError || unit.remaining() <= 1) throw error
    unit.client = await checkout(guard, Math.min(unit.remaining(), checkoutMs))
  }
  const held = unit.client
  const exec: Exec = <R>(query: QueryConfig, capMs = Number.POSITIVE_INFINITY) =>
    withTimeout(
      held.query(query) as Promise<QueryResult<R>>,
      Math.min(unit.remaining(), capMs),
      'PostgreSQL',
    )
  const statementTimeout = Math.ceil(unit.timeoutMs) + guard.statementTimeoutSlackMs
  const setServerTimeout =
    guard.serverTimeout && (guard.configured === undefined || guard.configured > statementTimeout)
  if (setServerTimeout && guard.statementTimeouts.get(held) !== statementTimeout) {
    await exec({ text: `SET statement_timeout = ${statementTimeout}` })
    guard.statementTimeouts.set(held, statementTimeout)
  }
  if (unit.probe) await exec({ text: 'SELECT 1' }, guard.probeTimeoutMs)
  return exec
}

/**
 * Runs `work` with a connection under a deadline of `timeoutMs`, checkout included; `sound` says
 * whether a connection whose work failed may be reused. Refuses at once when the wait queue is
 * full or the breaker open; an infrastructure failure counts against the breaker.
 *
 * @example
 * const rows = await runGuarded(guard, 2000, (exec) => exec({ text: 'SELECT 1' }), connectionIsSound)
 */
export async function runGuarded<T>(
  guard: Guard,
  timeoutMs: number,
  work: (exec: Exec) => Promise<T>,
  sound: (error: unknown) => boolean,
): Promise<T> {
  const { counts, breaker, metrics } = guard
  const probe = admit(guard)
  const started = performance.now()
  const remaining = () => Math.max(1, Math.ceil(timeoutMs - (performance.now() - started)))
  const unit: Unit = { timeoutMs, probe, remaining, client: undefined }
  counts.active++
  try {
    const exec = await (guard.connect === undefined
      ? standInExec(guard, unit)
      : connectionExec(guard, unit))
    const result = await work(exec)
    if (unit.client !== undefined) giveBack(guard, unit.client)
    breaker.success()
    metrics?.timing('postgres', performance.now() - started)
    return result
  } catch (error) {
    if (error instanceof TimeoutError || (error as Error)?.cause instanceof TimeoutError) {
      counts.timeouts++
    }
    if (unit.client !== undefined) {
      giveBack(guard, unit.client, sound(error) ? undefined : error instanceof Error ? error : true)
    }
    if (isInfrastructureFailure(error)) {
      breaker.failure()
      metrics?.infrastructureError('postgres')
    } else breaker.success()
    throw error
  } finally {
    counts.active--
  }
}
