/** fast-jwt's verifier, configured as the micro-benchmark and the memory part give it. */
import { createVerifier } from 'fast-jwt'
import { AUDIENCE, ISSUER, type KeyMaterial } from './tokens.js'

function peerKey(m: KeyMaterial): string {
  return m.alg === 'HS256' ? (m.secret as string) : m.verifyPem
}

/** fast-jwt's verifier for one key, as the peers get it (issuer and audience checked). */
export function fastJwt(m: KeyMaterial, cache: false | number, cacheTTL?: number) {
  return createVerifier({
    key: peerKey(m),
    algorithms: [m.alg] as never,
    allowedIss: ISSUER,
    allowedAud: AUDIENCE,
    cache,
    ...(cacheTTL ? { cacheTTL } : {}),
  })
}
