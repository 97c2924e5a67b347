/** What the handler tests share: token steps over a fake clock, an in-memory revocation list. */
import { createVerificationCache } from '../../src/cache/verification-cache.js'
import { TokenInvalidError } from '../../src/errors.js'
import { createTokenSteps } from '../../src/handlers/token.js'
import { createMemoryRevocationList } from '../../src/revocation/memory.js'
import type { VerifiedJws } from '../../src/token/verify.js'
import type { AuthContext, RequestInput, RevocationList } from '../../src/types.js'
import { AUDIENCE, b64u, claims, fakeClock, ISSUER } from '../helpers.js'

export const INPUT: RequestInput = { authorization: undefined }

/** An unsigned compact token whose "signature" the fake verifier below accepts (`ok`) or not. */
export function fakeJwt(extra: Record<string, unknown> = {}, signature = 'ok'): string {
  return `${b64u({ alg: 'RS256' })}.${b64u(claims(extra))}.${signature}`
}

/** Accepts the tokens of `fakeJwt` with the signature `ok`; counts its calls. */
export function fakeVerifier() {
  const verifier = (jwt: string): VerifiedJws => {
    verifier.calls++
    const [header, payload, signature] = jwt.split('.')
    if (signature !== 'ok') throw new TokenInvalidError('The token signature is invalid.')
    return {
      header: JSON.parse(Buffer.from(header!, 'base64url').toString()),
      payload: JSON.parse(Buffer.from(payload!, 'base64url').toString()),
    }
  }
  verifier.calls = 0
  return verifier
}

/** The token steps of a default instance (claim rules for ISSUER and AUDIENCE), with a cache. */
export function tokenSteps(
  options: {
    revocation?: RevocationList
    resolvePermissions?: (context: AuthContext) => AuthContext | Promise<AuthContext>
    cache?: boolean
  } = {},
) {
  const time = fakeClock()
  const cache =
    options.cache === false
      ? undefined
      : createVerificationCache({ max: 100, maxTtlSeconds: 300, clock: time.clock })
  const revocation = options.revocation ?? createMemoryRevocationList({ clock: time.clock })
  const steps = createTokenSteps({
    claimRules: {
      issuer: new Set([ISSUER]),
      audience: new Set([AUDIENCE]),
      toleranceSeconds: 0,
      requireExp: true,
      maxTokenAgeSeconds: undefined,
      requiredClaims: [],
    },
    permissionsClaim: 'perms',
    tokenWildcards: false,
    clock: time.clock,
    cache,
    revocation,
    resolvePermissions: options.resolvePermissions ?? ((context) => context),
  })
  return { steps, cache, revocation, time }
}
