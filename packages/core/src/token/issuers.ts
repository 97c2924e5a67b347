/**
 * Several issuers in one instance: a token's `iss`, read before anything is verified, selects
 * one issuer's verifier; the token is then verified with that issuer's keys, algorithms and claim
 * rules alone, so one issuer's keys never verify another issuer's tokens.
 */
import { TokenInvalidError } from '../errors.js'
import type { SecurityLogger } from '../logging.js'
import type { IssuerSource, ResolvedIssuer } from '../options/issuers.js'
import type { PermissionsClaim } from '../options/types.js'
import type { Clock } from '../types.js'
import { isPromise, type MaybePromise } from '../util.js'
import type { ClaimRules } from './claims.js'
import { compactDots, decodeCanonical, notCanonical } from './compact.js'
import { createIssuerCache } from './issuer-cache.js'
import { createRemoteKeySet } from './jwks.js'
import { createStaticKeyResolver, type KeyResolver } from './key-resolver.js'
import { createJwsVerifier, type VerifiedJws } from './verify.js'

/** Longest `iss` looked up: longer ones are no issuer's. */
export const MAX_ISSUER_LENGTH = 2048

/** What the claim checks of a token verified by one issuer use instead of the instance's. */
export interface IssuerRules {
  readonly claimRules: ClaimRules
  readonly permissionsClaim: PermissionsClaim
  /**
   * Whole seconds: no verification under this configuration is cached past it (a resolver's
   * answer expires; a listed issuer's never does).
   */
  readonly validUntil: number
}

/** One issuer, opened: its key resolver, its verifier, and the verifier with its rules. */
export interface OpenIssuer {
  readonly issuer: ResolvedIssuer
  readonly resolver: KeyResolver
  /** Header, key and signature checks, with this issuer's header rules and keys. */
  readonly verifyJws: (jwt: string) => MaybePromise<VerifiedJws>
  /** `verifyJws`, its result carrying this issuer's claim rules. */
  readonly verify: (jwt: string) => MaybePromise<VerifiedJws>
}

export interface IssuersVerifierOptions {
  readonly clock: Clock
  /** Told when an issuer's remote key set changed: verifications cached for its tokens may rest on a key that is gone. */
  readonly keysChanged: (issuer: string) => void
  readonly logger: SecurityLogger | undefined
}

/** True when `b` would open the same remote key set and header rules as `a`: they can be kept. */
function sameRemoteVerifier(a: ResolvedIssuer, b: ResolvedIssuer): boolean {
  if (!('jwks' in a.keys) || !('jwks' in b.keys)) return false
  const { fetch: fetchA, ...jwksA } = a.keys.jwks
  const { fetch: fetchB, ...jwksB } = b.keys.jwks
  const algorithmsA = a.headerRules.algorithms
  const algorithmsB = b.headerRules.algorithms
  return (
    fetchA === fetchB &&
    JSON.stringify(jwksA) === JSON.stringify(jwksB) &&
    a.headerRules.typ === b.headerRules.typ &&
    algorithmsA.size === algorithmsB.size &&
    [...algorithmsA].every((alg) => algorithmsB.has(alg))
  )
}

/**
 * Opens one issuer: its key resolver (its own remote JWK Set, with its own fetch limits, or its
 * keys) and its verifier (its own header memo, algorithms and `typ`). `expired`, the same issuer
 * opened from an earlier answer: its remote key set (and the keys it fetched) is kept when the new
 * answer names the same one with the same options and header rules.
 */
export function openIssuer(
  issuer: ResolvedIssuer,
  validUntil: number,
  options: IssuersVerifierOptions,
  name: string,
  expired?: OpenIssuer,
): OpenIssuer {
  let resolver: KeyResolver
  let verifyJws: OpenIssuer['verifyJws']
  if (expired !== undefined && sameRemoteVerifier(expired.issuer, issuer)) {
    resolver = expired.resolver
    verifyJws = expired.verifyJws
  } else {
    resolver =
      'jwks' in issuer.keys
        ? createRemoteKeySet(issuer.keys.jwks, issuer.headerRules.algorithms, options.clock, name)
        : createStaticKeyResolver(issuer.keys.keys)
    resolver.onKeysChanged?.(() => options.keysChanged(issuer.issuer))
    verifyJws = createJwsVerifier(issuer.headerRules, resolver)
  }
  const rules: IssuerRules = Object.freeze({
    claimRules: issuer.claimRules,
    permissionsClaim: issuer.permissionsClaim,
    validUntil,
  })
  const stamp = (jws: VerifiedJws): VerifiedJws => ({
    header: jws.header,
    payload: jws.payload,
    issuer: rules,
  })
  return {
    issuer,
    resolver,
    verifyJws,
    verify(jwt) {
      const jws = verifyJws(jwt)
      return isPromise(jws) ? jws.then(stamp) : stamp(jws)
    },
  }
}

/**
 * The unverified `iss` of a compact JWS: three non-empty segments, the payload canonical base64url
 * of a JSON object. Only to select an issuer, never trusted: the selected issuer's verifier runs
 * the whole strict check, and its claim check compares `iss` again, verified.
 */
export function unverifiedIssuer(jwt: string): string {
  const dot1 = jwt.indexOf('.')
  const dot2 = compactDots(jwt, dot1)
  const bytes = decodeCanonical(jwt, dot1 + 1, dot2)
  if (bytes === undefined) throw notCanonical()
  let payload: unknown
  try {
    payload = JSON.parse(bytes.toString('utf8'))
  } catch {
    throw new TokenInvalidError('The token payload is not JSON.')
  }
  const iss = (payload as { iss?: unknown } | null)?.iss
  if (typeof iss !== 'string' || iss.length === 0 || iss.length > MAX_ISSUER_LENGTH) {
    throw new TokenInvalidError('The token has no usable "iss" claim.')
  }
  return iss
}

const UNKNOWN = 'The token issuer is not accepted.'

/** Says once per message that a resolver answered a configuration that cannot be used. */
function reportInvalid(
  logger: SecurityLogger | undefined,
  error: unknown,
  seen: Set<string>,
): void {
  const reason = error instanceof TypeError ? error.message : 'the issuer could not be opened'
  if (seen.has(reason) || seen.size >= 100) return
  seen.add(reason)
  const event = { event: 'issuer_config_invalid', reason }
  if (logger !== undefined)
    logger.error(event, 'the issuers resolver answered an unusable configuration')
  else process.emitWarning(`createAuth: ${reason}`, { code: 'AUTHFRAMEWORK_ISSUER_CONFIG_INVALID' })
}

/**
 * The verifier of an instance with `issuers`: reads a token's `iss`, finds its issuer (a listed
 * one, or the resolver's cached answer), and verifies the token with it. An unknown issuer is a
 * 401 `token_invalid` without any key lookup or network call; a failing resolver a 503.
 *
 * @example
 * const { verify, close } = createIssuersVerifier(source, { clock, keysChanged, logger })
 * const jws = await verify(token) // jws.issuer: the issuer's claim rules
 */
export function createIssuersVerifier(
  source: IssuerSource,
  options: IssuersVerifierOptions,
): { verify: (jwt: string) => MaybePromise<VerifiedJws>; close(): void } {
  const opened: OpenIssuer[] = []
  let find: (iss: string) => MaybePromise<OpenIssuer | undefined>
  let clear = () => {}
  if ('list' in source) {
    const byIssuer = new Map<string, OpenIssuer>()
    source.list.forEach((issuer, i) => {
      const open = openIssuer(issuer, Number.POSITIVE_INFINITY, options, `issuers[${i}].`)
      byIssuer.set(issuer.issuer, open)
      opened.push(open)
    })
    find = (iss) => byIssuer.get(iss)
  } else {
    const { resolve, check, cache } = source
    const { clock, logger } = options
    const reported = new Set<string>()
    const load = async (iss: string, expired: OpenIssuer | undefined) => {
      const answer = await resolve(iss)
      if (answer === undefined || answer === null) return undefined
      try {
        const validUntil = Math.floor((clock() + cache.ttlMs) / 1000)
        return openIssuer(check(answer, iss), validUntil, options, 'issuers() answer.', expired)
      } catch (error) {
        reportInvalid(logger, error, reported)
        throw error
      }
    }
    const issuers = createIssuerCache(load, { ...cache, clock })
    find = issuers.get
    clear = issuers.clear
  }
  const verifyWith = (open: OpenIssuer | undefined, jwt: string) => {
    if (open === undefined) throw new TokenInvalidError(UNKNOWN)
    return open.verify(jwt)
  }
  return {
    verify(jwt) {
      const open = find(unverifiedIssuer(jwt))
      return isPromise(open) ? open.then((o) => verifyWith(o, jwt)) : verifyWith(open, jwt)
    },
    close() {
      for (const open of opened) open.resolver.close?.()
      clear()
    },
  }
}
