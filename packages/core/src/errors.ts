import type {
  DpopNonceRequiredError,
  DpopProofInvalidError,
  DpopRequiredError,
} from './dpop/errors.js'
import {
  type AuthErrorCode,
  basicChallenge,
  bearerChallenge,
  type DpopChallengeOptions,
  ERROR_TABLE,
  isScopeToken,
  type ProblemDetails,
  problemType,
  schemeChallenge,
} from './http.js'
import type { Dependency } from './metrics/metrics.js'

export type { AuthErrorCode, DpopChallengeOptions } from './http.js'

const DEFAULT_REALM = 'api'

/**
 * The one error type of every authentication and authorization failure. `code` is stable and
 * narrows the type; `status` and `headers` carry the HTTP answer so that any framework's error
 * handler can send it. The message and `detail` never contain a token, a secret or a password.
 *
 * @example
 * try { await auth.verify(token) } catch (err) {
 *   if (err instanceof AuthError && err.code === 'token_expired') { ... }
 * }
 */
export class AuthError extends Error {
  override readonly name: string = 'AuthError'
  readonly code: AuthErrorCode
  /** HTTP status code (also as `statusCode` for Fastify and `expose` for Koa). */
  readonly status: number
  /** Permissions that were required, for `insufficient_scope` challenges. */
  readonly scope: readonly string[] | undefined
  /** The realm of the `WWW-Authenticate` challenge. */
  realm: string
  /** Also challenge for `Basic` (set when Basic credentials are configured). */
  basic = false
  /** For `auth_unavailable`: what failed (for metrics and logs). */
  dependency: Dependency | undefined
  /** Set when the instance accepts DPoP: the `DPoP` challenge's parameters. */
  dpop: DpopChallengeOptions | undefined
  /** The request used the `DPoP` scheme: the error goes in the `DPoP` challenge (RFC 9449 section 7.2). */
  viaDpop = false
  /** A server nonce the client must put in its next proof (the `DPoP-Nonce` header). */
  dpopNonce: string | undefined

  constructor(
    code: AuthErrorCode,
    detail: string,
    options?: {
      cause?: unknown
      scope?: readonly string[]
      realm?: string
      dependency?: Dependency
    },
  ) {
    super(detail, options?.cause === undefined ? undefined : { cause: options.cause })
    this.code = code
    this.status = ERROR_TABLE[code].status
    this.scope = options?.scope
    this.realm = options?.realm ?? DEFAULT_REALM
    this.dependency = options?.dependency
  }

  get statusCode(): number {
    return this.status
  }

  /** Koa shows the message of errors with `expose: true`; ours are safe to show. */
  get expose(): boolean {
    return true
  }

  get title(): string {
    return ERROR_TABLE[this.code].title
  }

  /** The response headers: `WWW-Authenticate` for 401 and 403, `Retry-After` for 503. */
  get headers(): Record<string, string> {
    const spec = ERROR_TABLE[this.code]
    if (spec.status === 503) return { 'retry-after': '1' }
    if (this.code === 'too_many_attempts') {
      return { 'retry-after': String((this as unknown as TooManyAttemptsError).retryAfterSeconds) }
    }
    // refused Basic credentials are challenged for Basic; refused credentials that came some other
    // way (a login form) get the Bearer realm, so that browsers open no login dialog of their own
    if (this.code === 'credentials_invalid') {
      return {
        'www-authenticate': this.basic
          ? basicChallenge(this.realm)
          : bearerChallenge({ realm: this.realm }),
      }
    }
    const params = {
      realm: this.realm,
      error: spec.bearerError,
      description: spec.bearerError === undefined ? undefined : this.message,
      scope: this.scope,
    }
    const challenge = schemeChallenge(params, 'dpop' in spec, this.dpop, this.viaDpop)
    const both = this.basic && this.code === 'credentials_missing'
    const headers: Record<string, string> = {
      'www-authenticate': both ? `${challenge}, ${basicChallenge(this.realm)}` : challenge,
    }
    if (this.dpopNonce !== undefined) headers['dpop-nonce'] = this.dpopNonce
    return headers
  }

  /** The RFC 9457 body. */
  toProblem(): ProblemDetails {
    return {
      type: problemType(this.code),
      title: this.title,
      status: this.status,
      detail: this.message,
      code: this.code,
    }
  }

  toJSON(): ProblemDetails {
    return this.toProblem()
  }
}

/** An error of the pipeline as an `AuthError`: anything else thrown is a 401 `token_invalid`. */
export function asAuthError(error: unknown): AuthError {
  return error instanceof AuthError
    ? error
    : new TokenInvalidError('The token could not be verified.', { cause: error })
}

/** True for errors produced by this library (also across duplicated package copies). */
export function isAuthError(value: unknown): value is AuthError {
  return value instanceof AuthError
}

/** What every error constructor takes besides its detail. */
export type Options = {
  cause?: unknown
  scope?: readonly string[]
  realm?: string
  dependency?: Dependency
}

/** No credentials in the request (401, challenge without an error attribute). */
export class CredentialsMissingError extends AuthError {
  declare readonly code: 'credentials_missing'
  constructor(detail = 'No credentials were sent.', options?: Options) {
    super('credentials_missing', detail, options)
  }
}

/** Basic credentials were refused (401 with a `Basic` challenge). */
export class CredentialsInvalidError extends AuthError {
  declare readonly code: 'credentials_invalid'
  constructor(detail = 'The username or password is not valid.', options?: Options) {
    super('credentials_invalid', detail, options)
  }
}

/** The credentials are not well formed at the HTTP level (400 `invalid_request`). */
export class InvalidRequestError extends AuthError {
  declare readonly code: 'invalid_request'
  constructor(detail: string, options?: Options) {
    super('invalid_request', detail, options)
  }
}

/** The token is malformed, badly signed or its claims do not match (401 `invalid_token`). */
export class TokenInvalidError extends AuthError {
  declare readonly code: 'token_invalid'
  constructor(detail: string, options?: Options) {
    super('token_invalid', detail, options)
  }
}

/** `exp` is in the past (401 `invalid_token`). */
export class TokenExpiredError extends AuthError {
  declare readonly code: 'token_expired'
  constructor(detail = 'The token has expired.', options?: Options) {
    super('token_expired', detail, options)
  }
}

/** `nbf` is in the future (401 `invalid_token`). */
export class TokenNotYetValidError extends AuthError {
  declare readonly code: 'token_not_yet_valid'
  constructor(detail = 'The token is not valid yet.', options?: Options) {
    super('token_not_yet_valid', detail, options)
  }
}

/** The token was revoked (401 `invalid_token`). */
export class TokenRevokedError extends AuthError {
  declare readonly code: 'token_revoked'
  constructor(detail = 'The token has been revoked.', options?: Options) {
    super('token_revoked', detail, options)
  }
}

/** The session cookie names no live session (401 `invalid_token`). */
export class SessionInvalidError extends AuthError {
  declare readonly code: 'session_invalid'
  constructor(detail = 'The session is unknown or has expired.', options?: Options) {
    super('session_invalid', detail, options)
  }
}

/** The token's subject is unknown to the permission store or inactive (401 `invalid_token`). */
export class UserInactiveError extends AuthError {
  declare readonly code: 'user_inactive'
  constructor(detail = 'The user is unknown or inactive.', options?: Options) {
    super('user_inactive', detail, options)
  }
}

/** The caller lacks a required permission (403 `insufficient_scope`). */
export class PermissionDeniedError extends AuthError {
  declare readonly code: 'permission_denied'
  constructor(detail = 'The token does not grant the required permissions.', options?: Options) {
    super('permission_denied', detail, options)
  }
}

/** What a step-up challenge asks for (RFC 9470 section 3). */
export interface AuthenticationRequirements {
  /** Acceptable `acr` values, in order of preference (`acr_values`). */
  readonly acrValues?: readonly string[] | undefined
  /** The most seconds since the user's last active authentication (`max_age`). */
  readonly maxAge?: number | undefined
}

/**
 * The caller's authentication is too weak or too old for the route (401
 * `insufficient_user_authentication`, RFC 9470): the challenge carries `acr_values` and
 * `max_age`, and so does the problem body (for browser clients that cannot read the header).
 *
 * @example
 * throw new InsufficientUserAuthenticationError({ acrValues: ['mfa'], maxAge: 300 })
 */
export class InsufficientUserAuthenticationError extends AuthError {
  declare readonly code: 'insufficient_user_authentication'
  /** The `acr` values that would be accepted, in order of preference. */
  readonly acrValues: readonly string[] | undefined
  /** The most seconds since the last active authentication that would be accepted. */
  readonly maxAge: number | undefined

  constructor(
    requirements: AuthenticationRequirements,
    detail = 'Stronger or more recent authentication is required.',
    options?: Options,
  ) {
    super('insufficient_user_authentication', detail, options)
    // kept only as the challenge can carry them, so that the header and the body say the same
    const { acrValues, maxAge } = requirements
    this.acrValues = acrValues && Object.freeze(acrValues.filter(isScopeToken))
    this.maxAge =
      maxAge !== undefined && Number.isSafeInteger(maxAge) && maxAge >= 0 ? maxAge : undefined
  }

  override get headers(): Record<string, string> {
    const params = {
      realm: this.realm,
      error: 'insufficient_user_authentication' as const,
      description: this.message,
      acrValues: this.acrValues,
      maxAge: this.maxAge,
    }
    return { 'www-authenticate': schemeChallenge(params, false, this.dpop, this.viaDpop) }
  }

  override toProblem(): ProblemDetails {
    const acr = this.acrValues?.join(' ')
    return {
      ...super.toProblem(),
      ...(acr ? { acr_values: acr } : {}),
      ...(this.maxAge === undefined ? {} : { max_age: this.maxAge }),
    }
  }
}

/**
 * Too many failed logins for a username or from a client address (429 with `Retry-After`).
 *
 * @example
 * try { await authenticateUser(input, options) } catch (err) {
 *   if (err instanceof TooManyAttemptsError) console.log(err.retryAfterSeconds)
 * }
 */
export class TooManyAttemptsError extends AuthError {
  declare readonly code: 'too_many_attempts'
  /** Whole seconds until another attempt may be made (at least 1). */
  readonly retryAfterSeconds: number
  constructor(
    retryAfterSeconds: number,
    detail = 'Too many failed login attempts. Try again later.',
    options?: Options,
  ) {
    super('too_many_attempts', detail, options)
    this.retryAfterSeconds = Math.max(1, Math.ceil(retryAfterSeconds))
  }
}

/** A dependency (JWKS endpoint, Redis, PostgreSQL) failed; never turned into an allow (503). */
export class AuthUnavailableError extends AuthError {
  declare readonly code: 'auth_unavailable'
  constructor(detail = 'Authentication is temporarily unavailable.', options?: Options) {
    super('auth_unavailable', detail, options)
  }
}

/** The union of every failure; `switch (err.code)` narrows it. */
export type AuthFailure =
  | CredentialsMissingError
  | CredentialsInvalidError
  | InvalidRequestError
  | TokenInvalidError
  | TokenExpiredError
  | TokenNotYetValidError
  | TokenRevokedError
  | SessionInvalidError
  | UserInactiveError
  | PermissionDeniedError
  | InsufficientUserAuthenticationError
  | TooManyAttemptsError
  | DpopProofInvalidError
  | DpopNonceRequiredError
  | DpopRequiredError
  | AuthUnavailableError
