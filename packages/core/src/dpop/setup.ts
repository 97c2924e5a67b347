/**
 * What the composer builds for the `dpop` option: the DPoP handler over the bearer handler, the
 * gate that bearer credentials pass, and how challenges offer the `DPoP` scheme.
 */
import type { BearerHandler } from '../handlers/bearer.js'
import { createDpopHandler, dpopGate } from '../handlers/dpop.js'
import type { BearerCredential, CredentialHandler, DpopCredential } from '../handlers/handler.js'
import { createCircuitBreaker } from '../infra/circuit-breaker.js'
import type { ResolvedDpop } from '../options/dpop.js'
import type { Clock, RequestInput } from '../types.js'
import { createDpopNonces } from './nonce.js'
import { createProofVerifier } from './proof.js'
import { createMemoryReplayStore, createRedisReplayStore, type DpopReplayStore } from './replay.js'

export interface DpopSetup {
  readonly handler: CredentialHandler<DpopCredential>
  readonly gate: (credential: BearerCredential, input: RequestInput) => void
}

/** The replay store of the `dpop.replay` option: yours, Redis when a client is given, else memory. */
function replayStore(replay: ResolvedDpop['replay'], clock: Clock): DpopReplayStore {
  if ('reserve' in replay) return replay
  if (!('client' in replay)) return createMemoryReplayStore(replay.max, clock)
  return createRedisReplayStore({
    client: replay.client,
    keyPrefix: replay.keyPrefix,
    timeoutMs: replay.timeoutMs,
    breaker: createCircuitBreaker({ ...replay.breaker, clock }),
  })
}

/**
 * Builds DPoP for one instance.
 *
 * @example
 * const { handler, gate } = setupDpop(resolved.dpop, bearer, resolved)
 */
export function setupDpop(
  dpop: ResolvedDpop<never>,
  bearer: BearerHandler,
  context: { readonly clock: Clock; readonly maxTokenBytes: number },
): DpopSetup {
  const { clock } = context
  const toleranceSeconds = dpop.clockToleranceSeconds
  const nonce = dpop.nonce
  const handler = createDpopHandler({
    verifyProof: createProofVerifier({
      algorithms: dpop.algorithms,
      maxAgeSeconds: dpop.proofMaxAgeSeconds,
      toleranceSeconds,
      nonces: nonce && createDpopNonces(nonce.secret, nonce.stepSeconds, clock),
    }),
    uri: dpop,
    bearer,
    replay: replayStore(dpop.replay, clock),
    maxTokenBytes: context.maxTokenBytes,
    windowSeconds: dpop.proofMaxAgeSeconds + toleranceSeconds,
    clock,
  })
  return { handler, gate: dpopGate(dpop.mode) }
}
