/**
 * DPoP-bound tokens (RFC 9449): `Authorization: DPoP <token>` with one `DPoP` header carrying the
 * proof. The proof is checked first (`dpop/proof.ts`), then the token goes through the bearer
 * handler's own path (verification cache, signature, claims, revocation, permissions) with the
 * proof key's thumbprint, which its `cnf.jkt` must name; last, the proof's `jti` is recorded, so
 * that only proofs of accepted requests take room in the replay store and a replay is refused.
 */

import { createHash } from 'node:crypto'
import { DpopProofInvalidError, DpopRequiredError } from '../dpop/errors.js'
import { type RequestUriSource, requestHtu } from '../dpop/htu.js'
import type { ProofRequest, VerifiedProof } from '../dpop/proof.js'
import type { DpopReplayStore } from '../dpop/replay.js'
import { asAuthError, InvalidRequestError, TokenInvalidError } from '../errors.js'
import type { AuthContext, Clock, RequestInput } from '../types.js'
import { isPromise, type MaybePromise } from '../util.js'
import type { BearerHandler } from './bearer.js'
import type { BearerCredential, CredentialHandler, DpopCredential } from './handler.js'

export interface DpopHandlerOptions {
  readonly verifyProof: (proof: string, request: ProofRequest) => VerifiedProof
  readonly uri: RequestUriSource<never>
  readonly bearer: BearerHandler
  readonly replay: DpopReplayStore
  readonly maxTokenBytes: number
  /** How long after its `iat` a proof is acceptable: `proofMaxAgeSeconds` + the clock tolerance. */
  readonly windowSeconds: number
  readonly clock: Clock
}

/** The request's one proof; a missing or repeated `DPoP` header is an invalid proof (section 4.3). */
function proofOf(input: RequestInput): string {
  const value = input.headers?.dpop
  if (value === undefined || value === '') {
    throw new DpopProofInvalidError('The DPoP scheme needs the proof in a DPoP header.')
  }
  // Node and the Fetch API join repeated headers with commas, which a compact JWS never holds
  if (typeof value !== 'string' || value.includes(',')) {
    throw new DpopProofInvalidError('The DPoP header was sent more than once.')
  }
  return value
}

/** The replay store's key of a proof: a hash of its key's thumbprint and its `jti`. */
function replayKey(proof: VerifiedProof): string {
  return createHash('sha256').update(`${proof.jkt}\u0000${proof.jti}`).digest('base64url')
}

/** Marks an error of a DPoP request, so that its challenge is a `DPoP` one. */
function viaDpop(error: unknown): never {
  const err = asAuthError(error)
  err.viaDpop = true
  throw err
}

/**
 * The DPoP handler.
 *
 * @example
 * const dpop = createDpopHandler({ verifyProof, uri: { origin: undefined, url: undefined }, bearer, replay, maxTokenBytes: 8192, windowSeconds: 60, clock: Date.now })
 * const context = await dpop.authenticate({ kind: 'dpop', token }, input)
 */
export function createDpopHandler(options: DpopHandlerOptions): CredentialHandler<DpopCredential> {
  const { verifyProof, uri, bearer, replay, maxTokenBytes, windowSeconds, clock } = options

  function record(
    context: AuthContext,
    proof: VerifiedProof,
    now: number,
  ): MaybePromise<AuthContext> {
    const ttlMs = Math.max(1, (proof.iat + windowSeconds) * 1000 - now)
    const fresh = replay.reserve(replayKey(proof), ttlMs)
    const settle = (ok: boolean) => {
      if (!ok) throw new DpopProofInvalidError('The DPoP proof has been used before.')
      return context
    }
    return isPromise(fresh) ? fresh.then(settle) : settle(fresh)
  }

  function authenticate(
    credential: DpopCredential,
    input: RequestInput,
  ): MaybePromise<AuthContext> {
    const { token } = credential
    if (token.length > maxTokenBytes) {
      throw new TokenInvalidError(`The token is longer than ${maxTokenBytes} bytes.`)
    }
    const now = clock()
    const proof = verifyProof(proofOf(input), {
      method: input.method,
      htu: requestHtu(input, uri),
      token,
      now,
    })
    const bearerCredential: BearerCredential = { kind: 'bearer', token, source: 'header' }
    const context = bearer.prove(bearerCredential, input, proof)
    return isPromise(context)
      ? context.then((ctx) => record(ctx, proof, now))
      : record(context, proof, now)
  }

  return {
    authenticate(credential, input) {
      let result: MaybePromise<AuthContext>
      try {
        result = authenticate(credential, input)
      } catch (error) {
        return viaDpop(error)
      }
      return isPromise(result) ? result.catch(viaDpop) : result
    },
  }
}

/**
 * What the instance checks of a bearer credential when DPoP is on: with `required`, no bearer
 * token is accepted; a `DPoP` header beside the `Bearer` scheme is a 400 (the proof would be
 * ignored, and a client that sends one means the DPoP scheme).
 *
 * @example
 * const gate = dpopGate('allowed')
 * gate(credential, input) // throws for `Authorization: Bearer` with a DPoP header
 */
export function dpopGate(
  mode: 'allowed' | 'required',
): (credential: BearerCredential, input: RequestInput) => void {
  return (credential, input) => {
    if (mode === 'required') {
      throw new DpopRequiredError('Only DPoP-bound tokens sent with the DPoP scheme are accepted.')
    }
    if (credential.source === 'header' && input.headers?.dpop !== undefined) {
      throw new InvalidRequestError(
        'A DPoP proof was sent with the Bearer scheme; use the DPoP scheme.',
      )
    }
  }
}

/** True for a caller whose token is DPoP-bound: accepted only with a valid proof of its key. */
export function isDpopBound(auth: AuthContext | undefined): boolean {
  const cnf = auth?.claims.cnf as { jkt?: unknown } | undefined
  return typeof cnf?.jkt === 'string'
}
