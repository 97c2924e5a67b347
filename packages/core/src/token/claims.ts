import { TokenExpiredError, TokenInvalidError, TokenNotYetValidError } from '../errors.js'

/** The claim checks, resolved once from the options. */
export interface ClaimRules {
  readonly issuer: ReadonlySet<string> | undefined
  readonly audience: ReadonlySet<string> | undefined
  readonly toleranceSeconds: number
  readonly requireExp: boolean
  readonly maxTokenAgeSeconds: number | undefined
  readonly requiredClaims: readonly string[]
}

/** What the claim checks establish, for the context and the cache. */
export interface ClaimFacts {
  readonly sub: string
  readonly expiresAt: number | undefined
  /**
   * Whole seconds: the token is acceptable while `nowMs < validUntil * 1000` (from `exp` and
   * `maxTokenAgeSeconds`). Exact: with `now` in whole seconds, `now < x` holds iff `now < ceil(x)`.
   */
  readonly validUntil: number
  /** Whole seconds, never below 0: the token is acceptable once `nowMs >= validFrom * 1000` (from `nbf`). */
  readonly validFrom: number
}

function numericDate(claims: Record<string, unknown>, name: string): number | undefined {
  const value = claims[name]
  if (value === undefined) return undefined
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new TokenInvalidError(`The "${name}" claim must be a number.`)
  }
  return value
}

/**
 * Checks the registered claims with the semantics of jose's `jwtVerify`: `exp` (required by
 * default), `nbf`, `iat` (not in the future; `maxTokenAgeSeconds`), `iss`, `aud`, a string `sub`
 * and the `requiredClaims`. Time is in seconds, compared with the tolerance.
 */
export function checkClaims(
  claims: Record<string, unknown>,
  rules: ClaimRules,
  nowMs: number,
): ClaimFacts {
  const now = Math.floor(nowMs / 1000)
  const tol = rules.toleranceSeconds
  for (const name of rules.requiredClaims) {
    // own members only: `toString` or `constructor` must not be found on Object.prototype
    if (!Object.hasOwn(claims, name)) throw new TokenInvalidError(`The "${name}" claim is missing.`)
  }
  const exp = numericDate(claims, 'exp')
  const nbf = numericDate(claims, 'nbf')
  const iat = numericDate(claims, 'iat')
  if (exp === undefined && rules.requireExp)
    throw new TokenInvalidError('The "exp" claim is missing.')
  let validUntil = exp === undefined ? Number.POSITIVE_INFINITY : exp + tol
  if (now >= validUntil) throw new TokenExpiredError()
  if (nbf !== undefined && nbf > now + tol) throw new TokenNotYetValidError()
  if (iat !== undefined && iat > now + tol) {
    throw new TokenInvalidError('The "iat" claim is in the future.')
  }
  if (rules.maxTokenAgeSeconds !== undefined) {
    if (iat === undefined) throw new TokenInvalidError('The "iat" claim is missing.')
    validUntil = Math.min(validUntil, iat + rules.maxTokenAgeSeconds + tol)
    if (now >= validUntil) throw new TokenExpiredError('The token is older than allowed.')
  }
  if (rules.issuer !== undefined) {
    const iss = claims.iss
    if (typeof iss !== 'string' || !rules.issuer.has(iss)) {
      throw new TokenInvalidError('The "iss" claim does not match.')
    }
  }
  if (rules.audience !== undefined) {
    const aud = claims.aud
    const allowed = rules.audience
    const ok =
      typeof aud === 'string'
        ? allowed.has(aud)
        : Array.isArray(aud) && aud.some((a) => typeof a === 'string' && allowed.has(a))
    if (!ok) throw new TokenInvalidError('The "aud" claim does not match.')
  }
  const sub = claims.sub
  if (typeof sub !== 'string' || sub.length === 0) {
    throw new TokenInvalidError('The "sub" claim is missing or not a string.')
  }
  return {
    sub,
    expiresAt: exp,
    validUntil: Math.ceil(validUntil),
    validFrom: nbf === undefined ? 0 : Math.max(0, Math.ceil(nbf - tol)),
  }
}
