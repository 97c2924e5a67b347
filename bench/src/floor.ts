/**
 * The physical floor: what any correct verifier must at least do, written with bare node:crypto.
 * Uncached: split, base64url + JSON decode of header and payload, one signature check with a
 * prepared KeyObject, `alg`/`exp`/`iss`/`aud` checks. Cached: one SHA-256 of the token, one
 * lru-cache get, one `exp` check.
 */
import { constants, createHmac, hash, type KeyObject, timingSafeEqual, verify } from 'node:crypto'
import { LRUCache } from 'lru-cache'
import { type Algorithm, AUDIENCE, ISSUER } from './tokens.js'

export interface Claims {
  readonly sub: string
  readonly exp: number
  readonly [claim: string]: unknown
}

/** One signature check with a prepared key, as `crypto.verify` (or HMAC) takes it. */
function signatureCheck(alg: Algorithm, key: KeyObject): (data: Buffer, sig: Buffer) => boolean {
  if (alg === 'HS256')
    return (data, sig) => {
      const mac = createHmac('sha256', key).update(data).digest()
      return mac.length === sig.length && timingSafeEqual(mac, sig)
    }
  const k =
    alg === 'PS256'
      ? { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }
      : alg === 'ES256'
        ? { key, dsaEncoding: 'ieee-p1363' as const }
        : key
  const digest = alg === 'EdDSA' ? null : 'sha256'
  return (data, sig) => verify(digest, data, k, sig)
}

/** Uncached floor verifier for one algorithm. Throws on any failure. */
export function createFloorVerifier(alg: Algorithm, key: KeyObject): (token: string) => Claims {
  const check = signatureCheck(alg, key)
  return (token) => {
    const d1 = token.indexOf('.')
    const d2 = token.indexOf('.', d1 + 1)
    if (d1 < 1 || d2 < 0 || token.indexOf('.', d2 + 1) !== -1) throw new Error('malformed')
    const header = JSON.parse(Buffer.from(token.slice(0, d1), 'base64url').toString())
    if (header.alg !== alg) throw new Error('alg')
    const claims = JSON.parse(
      Buffer.from(token.slice(d1 + 1, d2), 'base64url').toString(),
    ) as Claims
    const ok = check(
      Buffer.from(token.slice(0, d2), 'latin1'),
      Buffer.from(token.slice(d2 + 1), 'base64url'),
    )
    if (!ok) throw new Error('signature')
    if (!(claims.exp > Date.now() / 1000)) throw new Error('expired')
    if (claims.iss !== ISSUER || claims.aud !== AUDIENCE) throw new Error('iss/aud')
    return claims
  }
}

/**
 * Cached floor: `crypto.hash` SHA-256 of the token, an lru-cache get, an `exp` check. On a miss it
 * falls back to `verifyUncached` and stores the claims under the hash.
 */
export function createFloorCache(
  verifyUncached: (token: string) => Claims,
  max = 10_000,
): (token: string) => Claims {
  const cache = new LRUCache<string, Claims>({ max })
  return (token) => {
    const key = hash('sha256', token, 'base64')
    const hit = cache.get(key)
    if (hit !== undefined && hit.exp > Date.now() / 1000) return hit
    const claims = verifyUncached(token)
    cache.set(key, claims)
    return claims
  }
}
