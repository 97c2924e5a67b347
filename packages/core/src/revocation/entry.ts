import { cacheKey } from '../cache/verification-cache.js'
import { parseCompact } from '../token/compact.js'
import type { RevocationEntry } from '../types.js'
import { tokenHashOf } from './keys.js'

/** What `auth.revoke` takes. Times are seconds since the epoch. */
export type RevokeTarget =
  | { readonly token: string }
  | { readonly jti: string; readonly expiresAt?: number }
  | { readonly sub: string; readonly before?: number; readonly expiresAt?: number }

/**
 * How long a revocation without a known `exp` is remembered (a `jti`, a subject) when the instance
 * has no `maxTokenAgeSeconds`: 30 days. Tokens that can live longer need `expiresAt` on `revoke`.
 */
export const DEFAULT_REVOCATION_TTL_SECONDS = 30 * 86_400

export interface EntryContext {
  readonly nowSeconds: number
  readonly toleranceSeconds: number
  /** The instance's `maxTokenAgeSeconds`: no token older than this is accepted, so no revocation need outlive it. */
  readonly maxTokenAgeSeconds?: number | undefined
  /** Decodes a `compressed:` token to its compact JWT (with the instance's size cap). */
  readonly canonical: (token: string) => string
  /** True for tokens this instance introspects (opaque, not JWT-shaped): keyed by their hash as sent. */
  readonly isOpaque?: (token: string) => boolean
}

function withoutWhitespace(token: string): string {
  let out = ''
  for (const ch of token) if (ch !== ' ' && ch !== '\t' && ch !== '\n' && ch !== '\r') out += ch
  return out
}

/**
 * Turns `auth.revoke(target)` into a revocation entry. A token is decoded (whitespace removed,
 * `compressed:` inflated, the strict compact check applied) and keyed by the hash of its JWS
 * Signing Input, what every valid signature of it covers, so every re-encoding and re-signature of
 * it is covered; its signature is not checked (only the caller's server code revokes), and its
 * `exp` bounds how long the revocation is kept.
 */
export function revocationEntry(target: RevokeTarget, ctx: EntryContext): RevocationEntry {
  const lifetime =
    ctx.maxTokenAgeSeconds === undefined
      ? DEFAULT_REVOCATION_TTL_SECONDS
      : ctx.maxTokenAgeSeconds + ctx.toleranceSeconds
  const fallback = ctx.nowSeconds + lifetime
  if ('token' in target) {
    if (typeof target.token !== 'string') throw new TypeError('revoke: token must be a string')
    const token = withoutWhitespace(target.token)
    if (ctx.isOpaque?.(token) === true) {
      // an opaque token has no canonical form but itself, and no readable `exp`
      return { kind: 'token', tokenHash: cacheKey(token), expiresAt: fallback }
    }
    const jwt = ctx.canonical(token)
    const parts = parseCompact(jwt)
    let payload: { exp?: unknown; sub?: unknown } | null = null
    try {
      payload = JSON.parse(parts.payload.toString())
    } catch {}
    const exp = typeof payload?.exp === 'number' ? payload.exp + ctx.toleranceSeconds : fallback
    const sub = typeof payload?.sub === 'string' ? payload.sub : undefined
    return { kind: 'token', tokenHash: tokenHashOf(jwt), expiresAt: exp, ...(sub ? { sub } : {}) }
  }
  if ('jti' in target) {
    if (typeof target.jti !== 'string' || target.jti === '') {
      throw new TypeError('revoke: jti must be a non-empty string')
    }
    return { kind: 'jti', jti: target.jti, expiresAt: target.expiresAt ?? fallback }
  }
  if ('sub' in target && typeof target.sub === 'string' && target.sub !== '') {
    const before = target.before ?? ctx.nowSeconds
    return {
      kind: 'subject',
      sub: target.sub,
      before,
      // tokens issued up to `before` are refused until the last of them has expired
      expiresAt: target.expiresAt ?? before + lifetime,
    }
  }
  throw new TypeError('revoke: expected { token }, { jti } or { sub, before? }')
}
