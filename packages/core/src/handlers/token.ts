/**
 * What the two token handlers (bearer JWT, introspected) share: the claim checks that turn a
 * verified payload into a context (cached when the cache is on), and the revocation check and
 * permission resolution every token goes through on every request.
 */
import type { TokenHasher, VerificationCache } from '../cache/verification-cache.js'
import { VerifiedContext } from '../cache/verification-cache.js'
import { TokenRevokedError } from '../errors.js'
import type { ClientCertificates } from '../mtls/client-certificate.js'
import type { PermissionsClaim } from '../options/types.js'
import { permissionsFromClaims } from '../permissions/resolve.js'
import { type ClaimRules, checkClaims } from '../token/claims.js'
import type { VerifiedJws } from '../token/verify.js'
import type { AuthContext, Clock, RequestInput, RevocationList } from '../types.js'
import { deepFreeze, isPromise, type MaybePromise } from '../util.js'
import { checkConfirmation, NO_PROOF, type SenderProof } from './confirmation.js'
import { type ResolvePermissions, unavailable } from './handler.js'

export interface TokenStepsOptions {
  readonly claimRules: ClaimRules
  readonly permissionsClaim: PermissionsClaim
  readonly tokenWildcards: boolean
  readonly clock: Clock
  readonly cache: VerificationCache | undefined
  readonly revocation: RevocationList
  readonly resolvePermissions: ResolvePermissions
  /** Where a request's client certificate comes from, for certificate-bound tokens. */
  readonly certificates?: ClientCertificates | undefined
}

export interface TokenSteps {
  /** Claim checks and the context of a verified token; cached under `key` when given. */
  finish(jws: VerifiedJws, key: string | undefined): VerifiedContext
  /**
   * The sender binding (`cnf`), the revocation check, then the permission store: on every request,
   * cached or not. `token` is the request's token, `hash` how its revocation hash is derived, only
   * if the list asks for it; `input` and `proof` are what the request proves about its sender.
   */
  admit(
    entry: VerifiedContext,
    token: string,
    hash: TokenHasher,
    input: RequestInput,
    proof: SenderProof,
  ): MaybePromise<AuthContext>
}

/** The context of uncached verifications: never looked up, so no validity is kept. */
const ONCE = { validUntil: 0, validFrom: 0 }

/**
 * The steps after a token's signature (or the authorization server) vouched for its claims.
 *
 * @example
 * const steps = createTokenSteps({ claimRules, permissionsClaim: 'perms', tokenWildcards: false, clock, cache, revocation, resolvePermissions })
 * const context = steps.admit(steps.finish(jws, key), token, tokenHashOf, input, NO_PROOF)
 */
export function createTokenSteps(options: TokenStepsOptions): TokenSteps {
  const { claimRules, permissionsClaim, tokenWildcards, clock, cache, revocation } = options
  const { resolvePermissions, certificates } = options

  function finish(jws: VerifiedJws, key: string | undefined): VerifiedContext {
    const now = clock()
    // with `issuers`, the rules of the issuer that verified the token
    const issuer = jws.issuer
    const facts = checkClaims(jws.payload, issuer?.claimRules ?? claimRules, now)
    const permissions = permissionsFromClaims(
      jws.payload,
      issuer?.permissionsClaim ?? permissionsClaim,
      tokenWildcards,
    )
    const claims = deepFreeze(jws.payload)
    const limit = cache === undefined ? 0 : cache.limit(now)
    const validity =
      key === undefined
        ? ONCE
        : {
            validUntil: Math.min(facts.validUntil, issuer?.validUntil ?? limit, limit),
            validFrom: facts.validFrom,
          }
    const entry = new VerifiedContext(facts.sub, claims, permissions, facts.expiresAt, validity)
    if (key !== undefined) cache!.set(key, entry)
    return entry
  }

  function admit(
    entry: VerifiedContext,
    token: string,
    hash: TokenHasher,
    input: RequestInput,
    proof: SenderProof,
  ): MaybePromise<AuthContext> {
    const cnf = entry.claims.cnf
    if (cnf !== undefined || proof !== NO_PROOF) checkConfirmation(cnf, input, proof, certificates)
    let revoked: MaybePromise<boolean>
    try {
      revoked = revocation.isRevoked(VerifiedContext.subject(entry, token, hash))
    } catch (cause) {
      throw unavailable(cause, 'The revocation list is unavailable.', 'revocation')
    }
    if (!isPromise(revoked)) {
      if (revoked) throw new TokenRevokedError()
      return resolvePermissions(entry)
    }
    return revoked.then(
      (yes) => {
        if (yes) throw new TokenRevokedError()
        return resolvePermissions(entry)
      },
      (cause: unknown) => {
        throw unavailable(cause, 'The revocation list is unavailable.', 'revocation')
      },
    )
  }

  return { finish, admit }
}
