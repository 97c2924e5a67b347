/**
 * Username + password login: rate limits, one Argon2 verification on every path (a dummy hash for
 * unknown users), `last_login`, rehash on parameter change, and an audit entry. The result carries
 * the claims to sign.
 */
import { AuthUnavailableError, CredentialsInvalidError, InvalidRequestError } from '../errors.js'
import {
  PERMISSION_STATEMENTS,
  PERMISSIONS_QUERY,
  type PostgresQueryable,
} from '../permissions/store/postgres-source.js'
import { withTimeout } from '../permissions/store/timeout.js'
import { defaultPasswordHasher, type PasswordHasher } from './password.js'
import type { RateLimiter } from './rate-limit.js'

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

export interface AuthenticateUserInput {
  readonly username: string
  readonly password: string
  /** The client's address, for the per-address limit and the audit entry. */
  readonly clientAddress?: string | undefined
}

export interface AuthenticateUserOptions {
  /** The schema of `migrate()`: `users`, the permission tables, `audit_log`. */
  readonly pool?: PostgresQueryable
  /** Instead of `pool`: a function from username to user, or a {@link UserStore}. */
  readonly lookup?: UserStore | UserStore['find']
  /** Failed-attempt limits; none when omitted. */
  readonly limiter?: RateLimiter
  /** Where audit entries go. Default: the `audit_log` table with `pool`, nowhere with `lookup`; `false` for none. */
  readonly audit?: LoginAuditSink | false
  /** Default: Argon2id at the OWASP parameters ({@link defaultPasswordHasher}). */
  readonly hasher?: PasswordHasher
  /** Deadline of each PostgreSQL query. Default 5000. */
  readonly timeoutMs?: number
}

/** The logged-in user, with the claims to pass to `signer.sign`. */
export interface AuthenticatedUser {
  readonly id: string
  readonly username: string
  readonly permissions: readonly string[]
  readonly roles: readonly string[]
  /** The stored hash was replaced with one at the current parameters. */
  readonly rehashed: boolean
  /** `{ sub, perms }`: `signer.sign(user.claims)`. */
  readonly claims: { readonly sub: string; readonly perms: readonly string[] }
}

/** Longest username looked up; longer ones fail like unknown users. */
const MAX_USERNAME_LENGTH = 256

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

function postgresStore(pool: PostgresQueryable, timeoutMs: number) {
  async function query<R extends Record<string, unknown>>(
    statement: { name: string; text: string },
    values: unknown[],
  ): Promise<R[]> {
    try {
      const result = await withTimeout(
        pool.query<R>({ ...statement, values }),
        timeoutMs,
        'PostgreSQL',
      )
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

function checkRecord(value: unknown): LoginUserRecord | null {
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

function stringList(value: readonly string[] | undefined): readonly string[] {
  return Object.freeze(
    Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [],
  )
}

/**
 * Checks a username and password. Every path (unknown user, inactive user, wrong password, right
 * password) runs one Argon2 verification, so the answer's timing does not tell whether a username
 * exists. Before any work, the limiter may refuse with `TooManyAttemptsError` (429, `Retry-After`);
 * a failure is counted and rejects with `CredentialsInvalidError` (401 `credentials_invalid`).
 * On success `last_login` is updated, the hash is replaced when the hashing parameters changed,
 * and the username's failure counter is cleared. Each outcome is audited (never the password).
 * Database failures reject with `AuthUnavailableError` (503).
 *
 * @example
 * const user = await authenticateUser(
 *   { username, password, clientAddress: req.ip },
 *   { pool, limiter: createRateLimiter() },
 * )
 * const token = signer.sign(user.claims)
 */
export async function authenticateUser(
  input: AuthenticateUserInput,
  options: AuthenticateUserOptions,
): Promise<AuthenticatedUser> {
  const { pool, lookup, limiter } = options ?? {}
  if ((pool === undefined) === (lookup === undefined)) {
    throw new TypeError('authenticateUser: pass either { pool } or { lookup }.')
  }
  if (pool !== undefined && typeof pool.query !== 'function') {
    throw new TypeError('authenticateUser: pool must be a pg Pool (new pg.Pool(config)).')
  }
  const timeoutMs = options.timeoutMs ?? 5000
  const hasher = options.hasher ?? defaultPasswordHasher()
  const db = pool === undefined ? undefined : postgresStore(pool, timeoutMs)
  const store: UserStore =
    db ?? (typeof lookup === 'function' ? { find: lookup } : (lookup as UserStore))
  if (typeof store?.find !== 'function') {
    throw new TypeError('authenticateUser: lookup must be a function or { find, recordLogin? }.')
  }
  const audit: LoginAuditSink | undefined =
    options.audit === false ? undefined : (options.audit ?? db?.audit)

  const { username, password } = input ?? {}
  if (typeof username !== 'string' || typeof password !== 'string') {
    throw new InvalidRequestError('The username and the password must be strings.')
  }
  const clientAddress =
    typeof input.clientAddress === 'string' && input.clientAddress !== ''
      ? input.clientAddress
      : undefined
  const attempt = { username, clientAddress }
  const record = async (event: LoginAuditEvent) => {
    if (audit === undefined) return
    try {
      await audit(event)
    } catch (error) {
      throw error instanceof AuthUnavailableError
        ? error
        : new AuthUnavailableError('The audit log is unavailable.', { cause: error })
    }
  }

  if (limiter !== undefined) {
    try {
      await limiter.check(attempt)
    } catch (error) {
      await record({ type: 'login_failure', userId: null, clientAddress, reason: 'rate_limited' })
      throw error
    }
  }

  let user: LoginUserRecord | null = null
  if (username !== '' && username.length <= MAX_USERNAME_LENGTH) {
    let found: unknown
    try {
      found = await store.find(username)
    } catch (error) {
      throw error instanceof AuthUnavailableError
        ? error
        : new AuthUnavailableError('The user lookup failed.', { cause: error })
    }
    user = checkRecord(found)
    if (user !== null && user.active === false) user = null
  }

  // The same single verification whether or not the user exists (a dummy hash otherwise).
  const check = await hasher.verify(user?.passwordHash ?? null, password)
  if (user === null || !check.ok) {
    await limiter?.recordFailure(attempt)
    await record({
      type: 'login_failure',
      userId: user?.id ?? null,
      clientAddress,
      reason: user === null ? 'unknown_user' : 'bad_password',
    })
    throw new CredentialsInvalidError('The username or password is not valid.')
  }

  const newHash = check.needsRehash ? await hasher.hash(password) : undefined
  try {
    await store.recordLogin?.(user.id, newHash === undefined ? {} : { passwordHash: newHash })
  } catch (error) {
    throw error instanceof AuthUnavailableError
      ? error
      : new AuthUnavailableError('Recording the login failed.', { cause: error })
  }
  await limiter?.recordSuccess(attempt)
  await record({
    type: 'login_success',
    userId: user.id,
    clientAddress,
    rehashed: newHash !== undefined,
  })

  const granted = db === undefined ? user : await db.permissions(user.id)
  const permissions = stringList(granted.permissions)
  return Object.freeze({
    id: user.id,
    username: user.username,
    permissions,
    roles: stringList(granted.roles),
    rehashed: newHash !== undefined,
    claims: Object.freeze({ sub: user.id, perms: permissions }),
  })
}
