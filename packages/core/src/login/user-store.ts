/**
 * Where a login finds its users: the PostgreSQL store over the schema of `migrate()` (users,
 * permission tables, `audit_log`), or a caller's lookup whose answers are checked here.
 */
import { AuthUnavailableError } from '../errors.js'
import { type PostgresQueryable, postgresRunner } from '../infra/postgres.js'
import { PERMISSION_STATEMENTS, PERMISSIONS_QUERY } from '../permissions/store/postgres-source.js'

/** What a login needs to know about a user. */
export interface LoginUserRecord {
  readonly id: string
  readonly username: string
  /** The stored PHC string; `null` for a user who cannot log in with a password. */
  readonly passwordHash: string | null
  /** Default true. An inactive user fails exactly like an unknown one. */
  readonly active?: boolean
  /** Used when the record comes from a `lookup` (with a `pool`, the permission tables answer). */
  readonly permissions?: readonly string[]
  readonly roles?: readonly string[]
}

/** A caller-supplied user store: `find` is required; `recordLogin` stores `last_login` and a new hash. */
export interface UserStore {
  find(username: string): Promise<LoginUserRecord | null>
  recordLogin?(userId: string, update: { readonly passwordHash?: string }): Promise<void>
}

/** One audit entry; never carries a password, a hash or a token. */
export interface LoginAuditEvent {
  readonly type: 'login_success' | 'login_failure'
  /** The user's id when the username matched an active user, else `null`. */
  readonly userId: string | null
  readonly clientAddress?: string | undefined
  /** Why a login failed. */
  readonly reason?: 'bad_password' | 'unknown_user' | 'rate_limited'
  /** The stored hash was replaced because the hashing parameters changed. */
  readonly rehashed?: boolean
}

export type LoginAuditSink = (event: LoginAuditEvent) => void | Promise<void>

const USER_QUERY = {
  name: 'authframework_login_user_v1',
  text: `SELECT id, username, password_hash FROM users WHERE username = $1 AND active
ORDER BY created_at, id LIMIT 2`,
}
const RECORD_LOGIN_QUERY = {
  name: 'authframework_login_record_v1',
  text: 'UPDATE users SET last_login = now(), password_hash = coalesce($2, password_hash) WHERE id = $1',
}
const AUDIT_QUERY = {
  name: 'authframework_login_audit_v1',
  text: 'INSERT INTO audit_log (user_id, event_type, details) VALUES ($1, $2, $3)',
}

/**
 * The user store over the schema of `migrate()`: users by name, `last_login` and rehashes, the
 * permissions of the permission tables, and audit entries in `audit_log`.
 */
export function postgresUserStore(pool: PostgresQueryable, timeoutMs: number) {
  const runner = postgresRunner(pool)
  async function query<R extends Record<string, unknown>>(
    statement: { name: string; text: string },
    values: unknown[],
  ): Promise<R[]> {
    try {
      const result = await runner.query<R>({ ...statement, values }, { timeoutMs })
      return result.rows
    } catch (error) {
      throw new AuthUnavailableError('The user database is unavailable.', { cause: error })
    }
  }
  return {
    async find(username: string): Promise<LoginUserRecord | null> {
      const rows = await query<{ id: string; username: string; password_hash: string | null }>(
        USER_QUERY,
        [username],
      )
      // Two active users with one username: neither can log in by name (fails like an unknown user).
      if (rows.length !== 1 || rows[0] === undefined) return null
      return { id: rows[0].id, username: rows[0].username, passwordHash: rows[0].password_hash }
    },
    async recordLogin(userId: string, update: { passwordHash?: string }) {
      await query(RECORD_LOGIN_QUERY, [userId, update.passwordHash ?? null])
    },
    async permissions(userId: string) {
      const rows = await query<{ permissions: string[]; roles: string[] }>(
        { name: PERMISSION_STATEMENTS.one, text: PERMISSIONS_QUERY },
        [userId],
      )
      return { permissions: rows[0]?.permissions ?? [], roles: rows[0]?.roles ?? [] }
    },
    async audit(event: LoginAuditEvent) {
      const details: Record<string, unknown> = {}
      if (event.reason !== undefined) details.reason = event.reason
      if (event.clientAddress !== undefined) details.client_address = event.clientAddress
      if (event.rehashed) details.rehashed = true
      await query(AUDIT_QUERY, [event.userId, event.type, JSON.stringify(details)])
    },
  }
}

/** A lookup's answer, checked: a record, `null`, or a 503 for anything else. */
export function checkRecord(value: unknown): LoginUserRecord | null {
  if (value === null || value === undefined) return null
  const record = value as LoginUserRecord
  if (
    typeof record !== 'object' ||
    typeof record.id !== 'string' ||
    (record.passwordHash !== null && typeof record.passwordHash !== 'string')
  ) {
    throw new AuthUnavailableError(
      'The user lookup answered something other than { id, username, passwordHash } or null.',
    )
  }
  return record
}

/** The strings of a list (anything else dropped), frozen. */
export function stringList(value: readonly string[] | undefined): readonly string[] {
  return Object.freeze(
    Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [],
  )
}
