/**
 * Username + password login: rate limits, one Argon2 verification on every path (a dummy hash for
 * unknown users), `last_login`, rehash on parameter change, and an audit entry. The result carries
 * the claims to sign. Users come from `user-store.ts`; what is kept of the input, from `input.ts`.
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
  queryablePool,
} from '../infra/postgres.js'
import type { AuthMetrics, LoginOutcome } from '../metrics/metrics.js'
import { auditedAddress, isUsableUsername } from './input.js'
import { defaultPasswordHasher, type PasswordHasher } from './password.js'
import type { LoginReservation, RateLimiter } from './rate-limit.js'
import {
  checkRecord,
  type LoginAuditEvent,
  type LoginAuditSink,
  type LoginUserRecord,
  postgresUserStore,
  stringList,
  type UserStore,
} from './user-store.js'

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

/** What one attempt works with: the options, resolved once by {@link createLogin}. */
interface LoginParts {
  readonly hasher: PasswordHasher
  readonly limiter: RateLimiter | undefined
  readonly store: UserStore
  /** With a pool: the permissions come from the permission tables. */
  readonly db: ReturnType<typeof postgresUserStore> | undefined
  /** Writes an audit entry (nowhere when there is no sink); a failure rejects (503). */
  readonly record: (event: LoginAuditEvent) => Promise<void>
}

/** Reserves the attempt with the limiter (when there is one); a refusal is audited. */
async function reserve(
  parts: LoginParts,
  username: string,
  clientAddress: string | undefined,
): Promise<LoginReservation | undefined> {
  if (parts.limiter === undefined) return undefined
  try {
    return await parts.limiter.reserve({ username, clientAddress })
  } catch (error) {
    await parts.record({
      type: 'login_failure',
      userId: null,
      clientAddress: auditedAddress(clientAddress),
      reason: 'rate_limited',
    })
    throw error
  }
}

/** The active user of a name, or `null`; a name that cannot be stored is never looked up. */
async function findUser(store: UserStore, username: string): Promise<LoginUserRecord | null> {
  if (!isUsableUsername(username)) return null
  let found: unknown
  try {
    found = await store.find(username)
  } catch (error) {
    throw unavailable('The user lookup failed.', error)
  }
  const user = checkRecord(found)
  return user !== null && user.active === false ? null : user
}

async function attempt(
  parts: LoginParts,
  input: AuthenticateUserInput,
): Promise<AuthenticatedUser> {
  const { hasher, store, db, record } = parts
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
  const reservation = await reserve(parts, username, clientAddress)
  try {
    const user = await findUser(store, username)
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
  if (pool !== undefined) queryablePool(pool, 'authenticateUser')
  if (limiter !== undefined && typeof limiter.reserve !== 'function') {
    throw new TypeError('authenticateUser: limiter must come from createRateLimiter().')
  }
  const timeoutMs = options.timeoutMs ?? POSTGRES_RUNNER_DEFAULTS.timeoutMs
  const hasher = options.hasher ?? defaultPasswordHasher()
  const db = pool === undefined ? undefined : postgresUserStore(pool, timeoutMs)
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
  const parts: LoginParts = { hasher, limiter, store, db, record }

  return {
    async authenticate(input) {
      try {
        const user = await attempt(parts, input)
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
