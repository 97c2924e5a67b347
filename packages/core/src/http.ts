/**
 * The one table that maps every error code to its HTTP status, its RFC 6750 error and its title,
 * and the builders for the `WWW-Authenticate` header and the RFC 9457 problem body.
 */

/**
 * The `error` of a challenge: RFC 6750 section 3.1 values, RFC 9470's
 * `insufficient_user_authentication`, and RFC 9449 section 7.1's two for DPoP proofs; `undefined`
 * when the challenge carries no error.
 */
export type BearerError =
  | 'invalid_request'
  | 'invalid_token'
  | 'insufficient_scope'
  | 'invalid_dpop_proof'
  | 'use_dpop_nonce'
  | 'insufficient_user_authentication'

export interface ErrorSpec {
  readonly status: number
  readonly bearerError: BearerError | undefined
  readonly title: string
  /** Answered with a `DPoP` challenge only, whatever scheme the request used. */
  readonly dpop?: true
}

/** Every stable error `code` and how it is answered over HTTP. */
export const ERROR_TABLE = {
  credentials_missing: { status: 401, bearerError: undefined, title: 'Authentication required' },
  credentials_invalid: { status: 401, bearerError: undefined, title: 'Invalid credentials' },
  invalid_request: { status: 400, bearerError: 'invalid_request', title: 'Malformed credentials' },
  token_invalid: { status: 401, bearerError: 'invalid_token', title: 'Invalid token' },
  token_expired: { status: 401, bearerError: 'invalid_token', title: 'Token expired' },
  token_not_yet_valid: {
    status: 401,
    bearerError: 'invalid_token',
    title: 'Token not yet valid',
  },
  token_revoked: { status: 401, bearerError: 'invalid_token', title: 'Token revoked' },
  session_invalid: {
    status: 401,
    bearerError: 'invalid_token',
    title: 'Session unknown or expired',
  },
  user_inactive: { status: 401, bearerError: 'invalid_token', title: 'User unknown or inactive' },
  permission_denied: {
    status: 403,
    bearerError: 'insufficient_scope',
    title: 'Insufficient permissions',
  },
  insufficient_user_authentication: {
    status: 401,
    bearerError: 'insufficient_user_authentication',
    title: 'Stronger or more recent authentication required',
  },
  too_many_attempts: { status: 429, bearerError: undefined, title: 'Too many attempts' },
  dpop_proof_invalid: {
    status: 401,
    bearerError: 'invalid_dpop_proof',
    title: 'Invalid DPoP proof',
    dpop: true,
  },
  dpop_nonce_required: {
    status: 401,
    bearerError: 'use_dpop_nonce',
    title: 'DPoP nonce required',
    dpop: true,
  },
  dpop_required: {
    status: 401,
    bearerError: 'invalid_token',
    title: 'DPoP-bound token required',
    dpop: true,
  },
  auth_unavailable: { status: 503, bearerError: undefined, title: 'Authentication unavailable' },
} as const satisfies Record<string, ErrorSpec>

export type AuthErrorCode = keyof typeof ERROR_TABLE

/** RFC 9457 problem details, as sent with `Content-Type: application/problem+json`. */
export interface ProblemDetails {
  readonly type: string
  readonly title: string
  readonly status: number
  readonly detail: string
  readonly code: AuthErrorCode
  /** `insufficient_user_authentication`: the `acr_values` of the challenge (RFC 9470). */
  readonly acr_values?: string
  /** `insufficient_user_authentication`: the `max_age` of the challenge, in seconds (RFC 9470). */
  readonly max_age?: number
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json'

/** The problem `type` URI of a code: stable, not meant to be dereferenced. */
export function problemType(code: AuthErrorCode): string {
  return `urn:authframework:error:${code}`
}

/**
 * Keeps only the characters RFC 6750 allows inside `error_description` and `scope`
 * (%x20-21 / %x23-5B / %x5D-7E): no quote, no backslash, no control character, nothing non-ASCII.
 */
export function toQuotedStringSafe(value: string): string {
  let out = ''
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i)
    if (c >= 0x20 && c <= 0x7e && c !== 0x22 && c !== 0x5c) out += value[i]
  }
  return out
}

/** True when `value` is a valid RFC 6750 scope-token (%x21 / %x23-5B / %x5D-7E, at least one). */
export function isScopeToken(value: string): boolean {
  if (value.length === 0) return false
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i)
    if (c < 0x21 || c > 0x7e || c === 0x22 || c === 0x5c) return false
  }
  return true
}

export interface ChallengeParams {
  readonly realm: string
  readonly error?: BearerError | undefined
  readonly description?: string | undefined
  readonly scope?: readonly string[] | undefined
  /** RFC 9470 `acr_values`: the acceptable `acr` values, in order of preference. */
  readonly acrValues?: readonly string[] | undefined
  /** RFC 9470 `max_age`: the most seconds since the user's last active authentication. */
  readonly maxAge?: number | undefined
}

/**
 * Builds a `Bearer` challenge (RFC 6750 section 3), with RFC 9470's `acr_values` and `max_age`
 * when given. Values that cannot stand in a quoted-string are dropped, never escaped.
 *
 * @example
 * bearerChallenge({ realm: 'api', error: 'invalid_token', description: 'Token expired' })
 * // 'Bearer realm="api", error="invalid_token", error_description="Token expired"'
 */
export function bearerChallenge(params: ChallengeParams): string {
  let header = `Bearer realm="${toQuotedStringSafe(params.realm)}"`
  if (params.error === undefined) return header
  header += `, error="${params.error}"`
  if (params.description)
    header += `, error_description="${toQuotedStringSafe(params.description)}"`
  if (params.scope && params.scope.length > 0) {
    const scope = params.scope.filter(isScopeToken).join(' ')
    if (scope) header += `, scope="${scope}"`
  }
  return header + stepUpParams(params)
}

/** RFC 9470 section 3: `, acr_values="..."` and `, max_age="..."` (a whole number of seconds). */
function stepUpParams({ acrValues, maxAge }: ChallengeParams): string {
  // acr values are space-separated, so each must be a scope-token (no space, quote, backslash)
  const acr = acrValues === undefined ? '' : acrValues.filter(isScopeToken).join(' ')
  let params = acr ? `, acr_values="${acr}"` : ''
  if (maxAge !== undefined && Number.isSafeInteger(maxAge) && maxAge >= 0) {
    params += `, max_age="${maxAge}"`
  }
  return params
}

/**
 * Builds a `DPoP` challenge (RFC 9449 section 7.1): the realm, the error if any, and `algs`, the
 * proof algorithms accepted.
 *
 * @example
 * dpopChallenge({ realm: 'api', error: 'invalid_dpop_proof', description: 'Proof expired' }, 'ES256 EdDSA')
 * // 'DPoP realm="api", error="invalid_dpop_proof", error_description="Proof expired", algs="ES256 EdDSA"'
 */
export function dpopChallenge(params: ChallengeParams, algs: string | undefined): string {
  const challenge = `DPoP${bearerChallenge(params).slice(6)}`
  return algs === undefined ? challenge : `${challenge}, algs="${algs}"`
}

/** A `Basic` challenge (RFC 7617), sent when Basic credentials are accepted. */
export function basicChallenge(realm: string): string {
  return `Basic realm="${toQuotedStringSafe(realm)}", charset="UTF-8"`
}

/** How an instance that accepts DPoP proofs challenges (RFC 9449 sections 7.1 and 7.2). */
export interface DpopChallengeOptions {
  /** The `algs` parameter: the proof algorithms accepted, space-separated. */
  readonly algs: string
  /** `allowed`: Bearer tokens are accepted too, and a request without credentials is challenged for both. */
  readonly mode: 'allowed' | 'required'
}

/**
 * The challenge that tells an error (RFC 9449 section 7.2): without DPoP, `Bearer`; a request
 * without credentials is challenged for every accepted scheme, without an error; a DPoP error
 * (`dpopCode`), or any error of a request that used the DPoP scheme, in a `DPoP` challenge;
 * anything else in a `Bearer` one.
 *
 * @example
 * schemeChallenge({ realm: 'api' }, false, { algs: 'ES256', mode: 'allowed' }, false) // 'Bearer realm="api", DPoP realm="api", algs="ES256"'
 */
export function schemeChallenge(
  params: ChallengeParams,
  dpopCode: boolean,
  dpop: DpopChallengeOptions | undefined,
  viaDpop: boolean,
): string {
  if (dpop === undefined) {
    return dpopCode ? dpopChallenge(params, undefined) : bearerChallenge(params)
  }
  if (params.error === undefined) {
    const challenge = dpopChallenge(params, dpop.algs)
    return dpop.mode === 'allowed' ? `${bearerChallenge(params)}, ${challenge}` : challenge
  }
  return dpopCode || viaDpop ? dpopChallenge(params, dpop.algs) : bearerChallenge(params)
}
