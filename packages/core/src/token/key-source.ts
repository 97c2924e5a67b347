/**
 * Opens the key source the options name: the configured keys, a remote JWK Set, or several
 * issuers; and keeps the verification cache true to it when keys rotate.
 */
import type { VerificationCache } from '../cache/verification-cache.js'
import type { SecurityLogger } from '../logging.js'
import type { KeySource } from '../options/keys.js'
import type { Clock } from '../types.js'
import type { MaybePromise } from '../util.js'
import { createIssuersVerifier } from './issuers.js'
import { createRemoteKeySet } from './jwks.js'
import { createStaticKeyResolver } from './key-resolver.js'
import { createJwsVerifier, type HeaderRules, type VerifiedJws } from './verify.js'

export interface OpenKeySource {
  /** Header, key and signature checks of a compact JWT (and, with `issuers`, the issuer's rules). */
  readonly verify: (jwt: string) => MaybePromise<VerifiedJws>
  close(): void
}

/**
 * The verifier of a key source. A rotated key set may have dropped the key a cached verification
 * rests on: a single key set's rotation clears the cache; one issuer's drops only the entries of
 * that issuer's tokens (their `iss` is that issuer's, exactly).
 *
 * @example
 * const keys = openKeySource(o.keys, o.headerRules, { clock, cache, logger })
 * const jws = await keys.verify(token)
 */
export function openKeySource(
  source: KeySource,
  headerRules: HeaderRules,
  deps: {
    readonly clock: Clock
    readonly cache: VerificationCache | undefined
    readonly logger: SecurityLogger | undefined
  },
): OpenKeySource {
  const { clock, cache, logger } = deps
  if ('issuers' in source) {
    const keysChanged = (issuer: string) => {
      cache?.deleteWhere((entry) => entry.claims.iss === issuer)
    }
    return createIssuersVerifier(source.issuers, { clock, keysChanged, logger })
  }
  const resolver =
    'jwks' in source
      ? createRemoteKeySet(source.jwks, headerRules.algorithms, clock)
      : createStaticKeyResolver(source.keys)
  if (cache !== undefined) resolver.onKeysChanged?.(() => cache.clear())
  return {
    verify: createJwsVerifier(headerRules, resolver),
    close: () => resolver.close?.(),
  }
}
