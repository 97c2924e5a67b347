/**
 * Username + password login: rate limits, one Argon2 verification on every path (a dummy hash for
 * unknown users), `last_login`, rehash on parameter change, and an audit entry. The result carries
 * the claims to sign.
 */
import {
  AuthUnavailableError,
  CredentialsInvalidError,
  InvalidRequestError,
  isAuthError,
} from '../errors.js'
import {
  POSTGRES_RUNNER_DEFAULTS,
  type PostgresQueryable,
  postgresRunner,
} from '../infra/postgres.js'
import type { AuthMetrics, LoginOutcome } from '../metrics/metrics.js'
import { PERMISSION_STATEMENTS, PERMISSIONS_QUERY } from '../permissions/store/postgres-source.js'
import { defaultPasswordHasher, type PasswordHasher } from './password.js'
import type { LoginReservation, RateLimiter } from './rate-limit.js'

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
  /** Attempt limits ({@link createRateLimiter}); none when omitted. */
  readonly limiter?: RateLimiter
  /** Counts each outcome (`authframework_logins_total{outcome}`). */
  readonly metrics?: AuthMetrics
  /** Where audit entries go. Default: the `audit_log` table with `pool`, nowhere with `lookup`; `false` for none. */
  readonly audit?: LoginAuditSink | false
  /** Default: Argon2id at the OWASP parameters ({@link defaultPasswordHasher}). */
  readonly hasher?: PasswordHasher
  /** Deadline of each PostgreSQL query. Default 2000. */
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

/** Longest username looked up, in UTF-16 code units; longer ones fail like unknown users. */
export const MAX_USERNAME_LENGTH = 256

/** C0 and C1 controls (NUL included), DEL, lone surrogates and the noncharacters U+FFFE/U+FFFF. */
const NOT_IN_A_NAME = /[\p{Cc}\p{Cs}\uFFFE\uFFFF]/u

/**
 * True when `username` can be a stored name: 1 to {@link MAX_USERNAME_LENGTH} characters, none of
 * them a control character (NUL included), a lone surrogate or a noncharacter. PostgreSQL refuses
 * NUL in `text`, and a lone surrogate is not UTF-8: such names are unknown users, never looked up.
 *
 * @example
 * isUsableUsername('alice')     // true
 * isUsableUsername('ali\u0000ce') // false: answered like an unknown user
 */
export function isUsableUsername(username: string): boolean {
  return (
    typeof username === 'string' &&
    username.length > 0 &&
    username.length <= MAX_USERNAME_LENGTH &&
    !NOT_IN_A_NAME.test(username)
  )
}

/** Longest client address kept in the audit entry. */
const MAX_AUDITED_ADDRESS = 64

/**
 * The client address as audited: what PostgreSQL's `jsonb` can store (no NUL, no lone surrogate:
 * each character that is not printable becomes U+FFFD) and at most 64 characters.
 */
function auditedAddress(address: string | undefined): string | undefined {
  if (address === undefined) return undefined
  const printable = address.replace(/[\p{Cc}\p{Cs}\uFFFE\uFFFF]/gu, '\uFFFD')
  const characters = Array.from(printable) // whole code points: never half of a pair
  return characters.length > MAX_AUDITED_ADDRESS
    ? `${characters.slice(0, MAX_AUDITED_ADDRESS).join('')}\u2026`
    : printable
}

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

/** Logins with options resolved once: {@link createLogin}. */
export interface Login {
  /** {@link authenticateUser} with the options given to {@link createLogin}. */
  authenticate(input: AuthenticateUserInput): Promise<AuthenticatedUser>
}

function unavailable(message: string, error: unknown): AuthUnavailableError {
  return error instanceof AuthUnavailableError
    ? error
    : new AuthUnavailableError(message, { cause: error })
}

/**
 * Checks the options once and returns the login function. The hasher (by default the shared
 * {@link defaultPasswordHasher}) starts making its dummy hash now, so the first request does not
 * pay for it. See {@link authenticateUser} for what a login does.
 *
 * @example
 * const login = createLogin({ pool, limiter: createRateLimiter(), metrics })
 * const user = await login.authenticate({ username, password, clientAddress: req.ip })
 * const token = signer.sign(user.claims)
 */
export function createLogin(options: AuthenticateUserOptions): Login {
  const { pool, lookup, limiter, metrics } = options ?? {}
  if ((pool === undefined) === (lookup === undefined)) {
    throw new TypeError('authenticateUser: pass either { pool } or { lookup }.')
  }
  if (pool !== undefined && typeof pool.query !== 'function') {
    throw new TypeError('authenticateUser: pool must be a pg Pool (new pg.Pool(config)).')
  }
  if (limiter !== undefined && typeof limiter.reserve !== 'function') {
    throw new TypeError('authenticateUser: limiter must come from createRateLimiter().')
  }
  const timeoutMs = options.timeoutMs ?? POSTGRES_RUNNER_DEFAULTS.timeoutMs
  const hasher = options.hasher ?? defaultPasswordHasher()
  const db = pool === undefined ? undefined : postgresStore(pool, timeoutMs)
  const store: UserStore =
    db ?? (typeof lookup === 'function' ? { find: lookup } : (lookup as UserStore))
  if (typeof store?.find !== 'function') {
    throw new TypeError('authenticateUser: lookup must be a function or { find, recordLogin? }.')
  }
  const audit: LoginAuditSink | undefined =
    options.audit === false ? undefined : (options.audit ?? db?.audit)
  // Made now (a no-op when the hasher already has it); awaited by every login below.
  hasher.dummyHash().catch(() => {})

  const record = async (event: LoginAuditEvent) => {
    if (audit === undefined) return
    try {
      await audit(event)
    } catch (error) {
      throw unavailable('The audit log is unavailable.', error)
    }
  }

  async function attempt(input: AuthenticateUserInput): Promise<AuthenticatedUser> {
    const { username, password } = input ?? {}
    if (typeof username !== 'string' || typeof password !== 'string') {
      throw new InvalidRequestError('The username and the password must be strings.')
    }
    const clientAddress =
      typeof input.clientAddress === 'string' && input.clientAddress !== ''
        ? input.clientAddress
        : undefined
    const audited = auditedAddress(clientAddress)
    // Every path waits for the dummy hash, so that no answer is slower because it was not ready.
    await hasher.dummyHash()

    let reservation: LoginReservation | undefined
    if (limiter !== undefined) {
      try {
        reservation = await limiter.reserve({ username, clientAddress })
      } catch (error) {
        await record({
          type: 'login_failure',
          userId: null,
          clientAddress: audited,
          reason: 'rate_limited',
        })
        throw error
      }
    }
    try {
      let user: LoginUserRecord | null = null
      // A name that cannot be stored is an unknown user: never sent to the database.
      if (isUsableUsername(username)) {
        let found: unknown
        try {
          found = await store.find(username)
        } catch (error) {
          throw unavailable('The user lookup failed.', error)
        }
        user = checkRecord(found)
        if (user !== null && user.active === false) user = null
      }

      // The same single verification whether or not the user exists (a dummy hash otherwise).
      const check = await hasher.verify(user?.passwordHash ?? null, password)
      if (user === null || !check.ok) {
        await reservation?.failed()
        await record({
          type: 'login_failure',
          userId: user?.id ?? null,
          clientAddress: audited,
          reason: user === null ? 'unknown_user' : 'bad_password',
        })
        throw new CredentialsInvalidError('The username or password is not valid.')
      }

      const newHash = check.needsRehash ? await hasher.hash(password) : undefined
      try {
        await store.recordLogin?.(user.id, newHash === undefined ? {} : { passwordHash: newHash })
      } catch (error) {
        throw unavailable('Recording the login failed.', error)
      }
      await reservation?.succeeded()
      await record({
        type: 'login_success',
        userId: user.id,
        clientAddress: audited,
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
    } finally {
      // Ended before a verdict (the database failed): no password was judged, give it back.
      await reservation?.release()
    }
  }

  return {
    async authenticate(input) {
      try {
        const user = await attempt(input)
        metrics?.login?.('ok')
        return user
      } catch (error) {
        if (isAuthError(error)) metrics?.login?.(error.code as LoginOutcome)
        throw error
      }
    },
  }
}

/**
 * Checks a username and password. Every path (unknown user, inactive user, unusable username,
 * wrong password, right password) runs one Argon2 verification, so the answer's timing does not
 * tell whether a username exists. Before any lookup or password work the limiter reserves the
 * attempt or refuses it with `TooManyAttemptsError` (429, `Retry-After`); a failure keeps its
 * reservation as the counted failure and rejects with `CredentialsInvalidError` (401
 * `credentials_invalid`). A username that cannot be stored (empty, longer than 256, a control
 * character such as NUL, a lone surrogate) is an unknown user, never looked up. On success
 * `last_login` is updated, the hash is replaced when the hashing parameters changed, and the
 * username's finished failures are cleared. Each outcome is audited (never the password) and
 * counted in `metrics`. Database failures reject with `AuthUnavailableError` (503).
 *
 * Resolves the options on each call: prefer {@link createLogin} in a server.
 *
 * @example
 * const user = await authenticateUser(
 *   { username, password, clientAddress: req.ip },
 *   { pool, limiter: createRateLimiter() },
 * )
 * const token = signer.sign(user.claims)
 */
export function authenticateUser(
  input: AuthenticateUserInput,
  options: AuthenticateUserOptions,
): Promise<AuthenticatedUser> {
  try {
    return createLogin(options).authenticate(input)
  } catch (error) {
    return Promise.reject(error)
  }
}
