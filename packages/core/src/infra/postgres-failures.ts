/**
 * What a PostgreSQL failure means to the guarded runner: the errors it raises itself (a full wait
 * queue, a COMMIT whose outcome is unknown), and which failures count against the database (and
 * its breaker) rather than against the statement.
 */
import { TimeoutError } from './deadline.js'

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

/** SQLSTATE classes that say the database (or the way to it) failed, not the statement. */
export function isInfrastructureFailure(error: unknown): boolean {
  if (error instanceof TimeoutError || error instanceof PostgresCommitUnknownError) return true
  const code = (error as { code?: unknown } | null)?.code
  if (typeof code !== 'string' || !/^[0-9A-Z]{5}$/.test(code)) return true // network, pool, driver
  return /^(08|53|57P0)/.test(code) || code === '57014'
}

/** A statement error leaves the connection usable; anything else (a deadline, a socket) does not. */
export function connectionIsSound(error: unknown): boolean {
  return !isInfrastructureFailure(error) || (error as { code?: unknown }).code === '57014'
}
