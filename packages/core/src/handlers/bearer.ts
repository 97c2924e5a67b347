/**
 * Bearer tokens: compact JWTs and `compressed:` ones, verified locally through the verification
 * cache. A token that is not JWT-shaped goes to the `opaque` handler (introspection) when there is
 * one, after the same length and alphabet checks.
 */
import {
  cacheKey,
  type TokenHasher,
  type VerificationCache,
  type VerifiedContext,
} from '../cache/verification-cache.js'
import { TokenInvalidError } from '../errors.js'
import { assertBearerToken, isBearerToken } from '../extract/authorization.js'
import { signingInput } from '../token/compact.js'
import { COMPRESSED_PREFIX, decodeCompressed } from '../token/compressed.js'
import type { VerifiedJws } from '../token/verify.js'
import type { AuthContext, RequestInput } from '../types.js'
import { isPromise, type MaybePromise } from '../util.js'
import { NO_PROOF, type SenderProof } from './confirmation.js'
import type { BearerCredential, CredentialHandler } from './handler.js'
import type { TokenSteps } from './token.js'

export interface BearerHandlerOptions {
  /** Longest token accepted, checked before any work. */
  readonly maxTokenBytes: number
  /** Inflated size limit of `compressed:` tokens; `undefined` refuses them. */
  readonly maxCompressedBytes: number | undefined
  readonly cache: VerificationCache | undefined
  /** Header, key and signature checks (`createJwsVerifier`). */
  readonly verifyJws: (jwt: string) => MaybePromise<VerifiedJws>
  readonly steps: TokenSteps
  /** Opaque (not JWT-shaped) tokens, when an introspector is configured. */
  readonly opaque?: ProvenHandler | undefined
  /** Told of each cache lookup and each signature verification. */
  readonly observe: {
    cacheLookup(hit: boolean): void
    verified(alg: unknown, ms: number, sub: string): void
  }
}

/** A token handler that also takes what the request proved about its sender (a DPoP proof). */
export interface ProvenHandler extends CredentialHandler<BearerCredential> {
  authenticate(
    credential: BearerCredential,
    input: RequestInput,
    proof?: SenderProof,
  ): MaybePromise<AuthContext>
}

export interface BearerHandler extends CredentialHandler<BearerCredential> {
  /** The compact JWT of a token: a `compressed:` token decoded (bounded), any other as is. */
  canonical(token: string): string
  /** A token given directly (`auth.verify`): like one from a cookie, without a request. */
  verify(token: string): MaybePromise<AuthContext>
  /**
   * A token sent with a proof of its sender (the DPoP scheme): the same checks, cache, revocation
   * and permissions as a bearer token, and its `cnf` binding checked against `proof`.
   */
  prove(
    credential: BearerCredential,
    input: RequestInput,
    proof: SenderProof,
  ): MaybePromise<AuthContext>
}

/** A compact JWT has exactly two dots; a `compressed:` token is one too. Anything else is opaque. */
export function isJwtShaped(token: string): boolean {
  if (token.startsWith(COMPRESSED_PREFIX)) return true
  const first = token.indexOf('.')
  if (first === -1) return false
  const second = token.indexOf('.', first + 1)
  return second !== -1 && token.indexOf('.', second + 1) === -1
}

/**
 * The bearer handler. A cache hit costs a hash and a lookup: the token's alphabet is scanned only
 * on a miss, and a hit returns synchronously.
 *
 * @example
 * const bearer = createBearerHandler({ maxTokenBytes: 8192, maxCompressedBytes: 16384, cache, verifyJws, steps, observe })
 * const context = await bearer.authenticate({ kind: 'bearer', token, source: 'header' }, input)
 */
export function createBearerHandler(options: BearerHandlerOptions): BearerHandler {
  const { maxTokenBytes, maxCompressedBytes, cache, verifyJws, steps, opaque, observe } = options

  function canonical(token: string): string {
    if (maxCompressedBytes !== undefined && token.startsWith(COMPRESSED_PREFIX)) {
      return decodeCompressed(token, maxCompressedBytes)
    }
    return token
  }

  // Revocation keys on what the signature covers, never on the signature, so that a re-signed twin
  // of a revoked token is revoked too. Derived from the request's token only when a revocation list
  // asks (it holds token revocations); a hit's token is the one its entry was verified from.
  const revocationHash: TokenHasher = (token) => cacheKey(signingInput(canonical(token)))

  function verifySignature(token: string, key: string | undefined): MaybePromise<VerifiedContext> {
    const start = performance.now()
    const jws = verifyJws(canonical(token))
    const done = (verified: VerifiedJws) => {
      const entry = steps.finish(verified, key)
      observe.verified(verified.header.alg, performance.now() - start, entry.sub)
      return entry
    }
    return isPromise(jws) ? jws.then(done) : done(jws)
  }

  /** 400 for a header that is not one b64token; 401 for such a token from elsewhere. */
  function checkAlphabet(token: string, fromHeader: boolean): void {
    if (isBearerToken(token)) return
    if (fromHeader) assertBearerToken(token)
    throw new TokenInvalidError('The token is not a single RFC 6750 b64token.')
  }

  /** `credential` is undefined for a token given to `auth.verify` (no object is made for it). */
  function check(
    token: string,
    credential: BearerCredential | undefined,
    input: RequestInput,
    proof: SenderProof,
  ): MaybePromise<AuthContext> {
    if (token.length > maxTokenBytes) {
      throw new TokenInvalidError(`The token is longer than ${maxTokenBytes} bytes.`)
    }
    const key = cache === undefined ? undefined : cacheKey(token)
    if (key !== undefined) {
      const hit = cache!.get(key)
      observe.cacheLookup(hit !== undefined)
      if (hit !== undefined) return steps.admit(hit, token, revocationHash, input, proof)
    }
    // Every token that reaches the cache is one b64token, whatever carried it, so that a hit can
    // skip the scan. A plain compact JWT needs no scan of its own: the strict compact check
    // (base64url and dots, a subset of b64token) is its scan, and the alphabet is only looked at
    // to tell a malformed header (400) from a malformed token (401) once that check has failed.
    const fromHeader = credential?.source === 'header'
    let verified: MaybePromise<VerifiedContext>
    if (token.startsWith(COMPRESSED_PREFIX) || !isJwtShaped(token)) {
      checkAlphabet(token, fromHeader)
      if (opaque !== undefined && !isJwtShaped(token)) {
        const opaqueCredential = credential ?? { kind: 'bearer', token, source: 'verify' }
        return opaque.authenticate(opaqueCredential, input, proof)
      }
      verified = verifySignature(token, key)
    } else {
      try {
        verified = verifySignature(token, key)
      } catch (error) {
        checkAlphabet(token, fromHeader)
        throw error
      }
    }
    return isPromise(verified)
      ? verified.then((entry) => steps.admit(entry, token, revocationHash, input, proof))
      : steps.admit(verified, token, revocationHash, input, proof)
  }

  return {
    canonical,
    authenticate: (credential, input) => check(credential.token, credential, input, NO_PROOF),
    verify: (token) => check(token, undefined, VERIFY_INPUT, NO_PROOF),
    prove: (credential, input, proof) => check(credential.token, credential, input, proof),
  }
}

const VERIFY_INPUT: RequestInput = Object.freeze({ authorization: undefined })
