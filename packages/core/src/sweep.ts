/**
 * Expiry sweeps of the `tokens` and `sessions` tables: batched deletes through the `expires_at`
 * partial indexes, run only when called (no timer of their own).
 */
import { type PostgresQueryable, postgresRunner } from './infra/postgres.js'

export interface SweepOptions {
  /** Rows deleted per statement. Default 1000. */
  readonly batchSize?: number
  /** Most statements per call; the rest waits for the next call. Default 100. */
  readonly maxBatches?: number
  /** Deadline of each statement (through the pool's query runner). Default 30 000. */
  readonly timeoutMs?: number
}

export interface SweepResult {
  readonly deleted: number
  readonly batches: number
  /** False when `maxBatches` stopped the sweep before every expired row was gone. */
  readonly done: boolean
}

/** Expired rows of one partial index, one batch; `$1` is the batch size. */
const sweepQuery = (table: string, key: string, where: string) =>
  `DELETE FROM ${table} WHERE ${key} IN (
  SELECT ${key} FROM ${table} WHERE ${where} AND expires_at <= now()
  ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED)`

/** The sweep statements: each matches one partial `expires_at` index. */
export const SWEEP_QUERIES = Object.freeze({
  tokens: [
    sweepQuery('tokens', 'token_hash', 'revoked'),
    sweepQuery('tokens', 'token_hash', 'NOT revoked'),
  ],
  sessions: [sweepQuery('sessions', 'id', 'active'), sweepQuery('sessions', 'id', 'NOT active')],
  // numbered changes older than the history every change log keeps (3600 s by default), and an hour more
  changes: [
    `DELETE FROM changes WHERE id IN (
  SELECT id FROM changes WHERE version IS NOT NULL AND changed_at < now() - interval '2 hours'
  ORDER BY changed_at LIMIT $1 FOR UPDATE SKIP LOCKED)`,
  ],
})

async function sweep(
  pool: PostgresQueryable,
  statements: readonly string[],
  options: SweepOptions,
  what: string,
): Promise<SweepResult> {
  if (typeof pool?.query !== 'function') {
    throw new TypeError(`${what}(pool): pool must be a pg Pool.`)
  }
  const batchSize = options.batchSize ?? 1000
  const maxBatches = options.maxBatches ?? 100
  const timeoutMs = options.timeoutMs ?? 30_000
  if (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new TypeError(`${what}: timeoutMs must be a positive number, e.g. 30000.`)
  }
  const runner = postgresRunner(pool)
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new TypeError(`${what}: batchSize must be a positive integer, e.g. 1000.`)
  }
  if (!Number.isInteger(maxBatches) || maxBatches < 1) {
    throw new TypeError(`${what}: maxBatches must be a positive integer, e.g. 100.`)
  }
  let deleted = 0
  let batches = 0
  for (const text of statements) {
    for (;;) {
      if (batches >= maxBatches) return { deleted, batches, done: false }
      // Each batch is its own statement (autocommit): locks are short, and the sweep can be
      // interrupted at any point without losing work.
      const result = await runner.query({ text, values: [batchSize] }, { timeoutMs })
      batches++
      deleted += result.rowCount ?? 0
      if ((result.rowCount ?? 0) < batchSize) break
    }
  }
  return { deleted, batches, done: true }
}

/**
 * Deletes expired rows of the `tokens` table (revoked or not) in batches of `batchSize`, through the
 * `expires_at` partial indexes, with `FOR UPDATE SKIP LOCKED` so that several instances may sweep at
 * once. Runs only when you call it: schedule it (a cron job, a worker, `setInterval(...).unref()`).
 * Expired revocations are safe to delete: the tokens they cover are refused as expired anyway.
 *
 * @example
 * const timer = setInterval(() => {
 *   sweepExpiredRevocations(pool, { batchSize: 1000 }).catch(report)
 * }, 10 * 60_000)
 * timer.unref()
 */
export function sweepExpiredRevocations(
  pool: PostgresQueryable,
  options: SweepOptions = {},
): Promise<SweepResult> {
  return sweep(pool, SWEEP_QUERIES.tokens, options, 'sweepExpiredRevocations')
}

/**
 * Deletes expired rows of the `sessions` table (active or destroyed) in batches, like
 * {@link sweepExpiredRevocations}. Expired sessions are refused anyway; this only reclaims space.
 *
 * @example
 * await sweepExpiredSessions(pool, { batchSize: 1000 })
 */
export function sweepExpiredSessions(
  pool: PostgresQueryable,
  options: SweepOptions = {},
): Promise<SweepResult> {
  return sweep(pool, SWEEP_QUERIES.sessions, options, 'sweepExpiredSessions')
}

/**
 * Deletes change-log rows older than two hours in batches, like {@link sweepExpiredRevocations}.
 * A change log keeps the last `historySeconds` (3600 by default) of changes in memory; rows older
 * than that are read by no one.
 *
 * @example
 * await sweepChanges(pool)
 */
export function sweepChanges(
  pool: PostgresQueryable,
  options: SweepOptions = {},
): Promise<SweepResult> {
  return sweep(pool, SWEEP_QUERIES.changes, options, 'sweepChanges')
}
