/** Sessions in PostgreSQL: the `sessions` table of migration 0001, one named statement per call. */
import { AuthUnavailableError } from '../errors.js'
import {
  POSTGRES_RUNNER_DEFAULTS,
  type PostgresQueryable,
  postgresRunner,
  queryablePool,
} from '../infra/postgres.js'
import { PostgresCommitUnknownError } from '../infra/postgres-failures.js'
import { positiveInteger, positiveNumber } from '../validate.js'
import { type Session, toSession } from './record.js'

/** What a destroy returns: the session's id and expiry (for the tombstone). */
export interface DestroyedSession {
  readonly id: string
  readonly expiresAt: number
}

/** The system of record of sessions: {@link postgresSessionSource}, or your own. Times in ms. */
export interface SessionDatabase {
  /** Stores a new session; resolves `false` when its user is unknown or inactive. */
  insert(session: Session): Promise<boolean>
  /**
   * The session if it is active and not expired at `nowMs`, else `null`; `userActive` says whether
   * its user is active now (`checkedAt` is set by the store).
   */
  get(id: string, nowMs: number): Promise<Session | null>
  /** Sets `last_activity` to `nowMs` unless it is already later than `notBeforeMs`; resolves whether it wrote. */
  touch(id: string, nowMs: number, notBeforeMs: number): Promise<boolean>
  /** Marks the session inactive; resolves what was destroyed (`null`: nothing active). */
  deactivate(id: string): Promise<DestroyedSession | null>
  /** Marks every active session of the user inactive. */
  deactivateUser(userId: string): Promise<readonly DestroyedSession[]>
}

/** The names of the prepared statements. */
export const SESSION_STATEMENTS = Object.freeze({
  insert: 'authframework_session_insert_v1',
  get: 'authframework_session_get_v2',
  touch: 'authframework_session_touch_v1',
  deactivate: 'authframework_session_deactivate_v1',
  deactivateUser: 'authframework_session_deactivate_user_v1',
})

const ms = (column: string) => `round(extract(epoch FROM ${column}) * 1000)::float8`
const at = (param: string) => `to_timestamp(${param}::float8 / 1000)`

/** Inserts only for an active user: `$1` id, `$2` user, `$3` created (ms), `$4` expires (ms). */
export const SESSION_INSERT_QUERY = `INSERT INTO sessions (id, user_id, created_at, expires_at, last_activity, active)
SELECT $1, u.id, ${at('$3')}, ${at('$4')}, ${at('$3')}, true FROM users u WHERE u.id = $2 AND u.active`

/** A live session and whether its user is active (a user row that is gone counts as inactive). */
export const SESSION_GET_QUERY = `SELECT s.id, s.user_id, ${ms('s.created_at')} AS created_at, ${ms('s.expires_at')} AS expires_at,
coalesce(u.active, false) AS user_active
FROM sessions s LEFT JOIN users u ON u.id = s.user_id
WHERE s.id = $1 AND s.active AND s.expires_at > ${at('$2')}`

export const SESSION_TOUCH_QUERY = `UPDATE sessions SET last_activity = ${at('$2')}
WHERE id = $1 AND active AND last_activity <= ${at('$3')}`

export const SESSION_DEACTIVATE_QUERY = `UPDATE sessions SET active = false
WHERE id = $1 AND active RETURNING id, ${ms('expires_at')} AS expires_at`

/** Removes a session whose insert may have committed after `create` reported failure. */
export const SESSION_COMPENSATE_QUERY = 'DELETE FROM sessions WHERE id = $1'

export const SESSION_DEACTIVATE_USER_QUERY = `UPDATE sessions SET active = false
WHERE user_id = $1 AND active RETURNING id, ${ms('expires_at')} AS expires_at`

interface Row {
  id: string
  user_id: string
  created_at: number
  expires_at: number
  user_active: boolean
}

export interface PostgresSessionSourceOptions {
  /** A `pg` pool you own, on the migrated schema; never ended here. */
  readonly pool: PostgresQueryable
  /** Most time one query may take, acquire included. Default 2000. */
  readonly timeoutMs?: number
  /**
   * How often a compensating delete is retried (see `insert`), and for how long at most.
   * Default `{ intervalMs: 1000, maxAttempts: 600 }`.
   */
  readonly compensation?: { readonly intervalMs?: number; readonly maxAttempts?: number }
  /** Called when a compensating delete is given up. */
  readonly onError?: (error: unknown) => void
}

const WHERE = 'postgresSessionSource'

/**
 * The PostgreSQL {@link SessionDatabase}. Every failure rejects with `AuthUnavailableError` (the
 * driver's error as `cause`). An insert that rejects leaves no session behind: it runs in a
 * transaction under the deadline, and a failure before COMMIT destroys the connection (the server
 * rolls back); when the deadline passes during COMMIT (its fate unknown), a delete of the row is
 * queued and retried every `compensation.intervalMs` until it succeeds.
 *
 * @example
 * const store = createSessionStore({ source: postgresSessionSource({ pool }) })
 */
export function postgresSessionSource(options: PostgresSessionSourceOptions): SessionDatabase {
  const pool = queryablePool(options?.pool, WHERE)
  const { timeoutMs: defaultMs } = POSTGRES_RUNNER_DEFAULTS
  const timeoutMs = positiveNumber(options.timeoutMs ?? defaultMs, 'timeoutMs', defaultMs, WHERE)
  const { intervalMs = 1000, maxAttempts = 600 } = options.compensation ?? {}
  positiveNumber(intervalMs, 'compensation.intervalMs', 1000, WHERE)
  positiveInteger(maxAttempts, 'compensation.maxAttempts', 600, WHERE)
  const runner = postgresRunner(pool)

  async function run<R extends object>(name: string, text: string, values: unknown[]) {
    try {
      return await runner.query<R>({ name, text, values }, { timeoutMs })
    } catch (error) {
      throw new AuthUnavailableError('The session database is unavailable.', { cause: error })
    }
  }

  /**
   * Deletes a session whose insert may have committed: until one delete has succeeded after the
   * commit's fate is settled on the server (a delete that runs while the COMMIT is still under way
   * finds nothing), retried every `intervalMs` while it fails.
   */
  function compensate(id: string, settledAt: number, attempt = 1): void {
    const again = (delayMs: number) =>
      setTimeout(() => compensate(id, settledAt, attempt + 1), delayMs).unref()
    runner.query({ text: SESSION_COMPENSATE_QUERY, values: [id] }, { timeoutMs }).then(
      () => {
        const left = settledAt - performance.now()
        if (left > 0) again(Math.max(left, 1))
      },
      (error: unknown) => {
        if (attempt >= maxAttempts) {
          try {
            options.onError?.(error)
          } catch {}
          return
        }
        again(intervalMs)
      },
    )
  }

  const destroyed = (rows: readonly { id: string; expires_at: number }[]) =>
    rows.map((row) => Object.freeze({ id: row.id, expiresAt: Number(row.expires_at) }))

  return {
    async insert(session) {
      try {
        const result = await runner.transaction(
          (tx) =>
            tx.query({
              name: SESSION_STATEMENTS.insert,
              text: SESSION_INSERT_QUERY,
              values: [session.id, session.userId, session.createdAt, session.expiresAt],
            }),
          { timeoutMs },
        )
        return result.rowCount === 1
      } catch (error) {
        if (error instanceof PostgresCommitUnknownError) {
          // without the runner's server timeouts, the fate of a lost COMMIT stays open far longer
          compensate(session.id, performance.now() + (error.settledAfterMs ?? 600_000))
        }
        throw new AuthUnavailableError('The session database is unavailable.', { cause: error })
      }
    },
    async get(id, nowMs) {
      const { rows } = await run<Row>(SESSION_STATEMENTS.get, SESSION_GET_QUERY, [id, nowMs])
      const row = rows[0]
      if (row === undefined) return null
      const session = toSession({
        id: row.id,
        userId: row.user_id,
        createdAt: Number(row.created_at),
        expiresAt: Number(row.expires_at),
        checkedAt: nowMs,
        userActive: row.user_active === true,
      })
      if (session === undefined) {
        throw new AuthUnavailableError('The session database returned an unexpected row.')
      }
      return session
    },
    async touch(id, nowMs, notBeforeMs) {
      const result = await run(SESSION_STATEMENTS.touch, SESSION_TOUCH_QUERY, [
        id,
        nowMs,
        notBeforeMs,
      ])
      return (result.rowCount ?? 0) > 0
    },
    async deactivate(id) {
      const { rows } = await run<{ id: string; expires_at: number }>(
        SESSION_STATEMENTS.deactivate,
        SESSION_DEACTIVATE_QUERY,
        [id],
      )
      return destroyed(rows)[0] ?? null
    },
    async deactivateUser(userId) {
      const { rows } = await run<{ id: string; expires_at: number }>(
        SESSION_STATEMENTS.deactivateUser,
        SESSION_DEACTIVATE_USER_QUERY,
        [userId],
      )
      return destroyed(rows)
    },
  }
}
