/**
 * DPoP proof checks (RFC 9449 section 4.3): a strict compact JWS of bounded size, `typ`
 * `dpop+jwt`, an allowlisted asymmetric `alg`, a public `jwk` that fits it and verifies the
 * signature, then the claims: `jti`, `htm`, `htu`, `iat` within the window, `ath` of the access
 * token, and the server nonce when nonces are on. Replay (`jti`) and the token's binding
 * (`cnf.jkt`) are checked by the DPoP handler.
 */
import { createHash, type JsonWebKey } from 'node:crypto'
import { type Algorithm, type SignatureCheck, signatureCheck } from '../token/algorithms.js'
import { type CompactParts, parseCompact } from '../token/compact.js'
import { importPublicKey } from '../token/keys.js'
import { checkHeader } from '../token/verify.js'
import { DpopNonceRequiredError, DpopProofInvalidError } from './errors.js'
import { normalizeHtu } from './htu.js'
import type { DpopNonces } from './nonce.js'

/** Longest proof accepted: an RSA-4096 key's proof is about 2.2 KB. */
export const MAX_PROOF_BYTES = 8192
/** Longest `jti` accepted (RFC 9449 asks for 96 bits of randomness: 16 base64url characters). */
export const MAX_JTI_LENGTH = 256
/** Most distinct protected headers (one per client key) remembered with their checked key. */
const KEY_MEMO_MAX = 1024

export interface ProofRules {
  /** Asymmetric algorithms only (the option check refuses the others). */
  readonly algorithms: ReadonlySet<Algorithm>
  readonly maxAgeSeconds: number
  readonly toleranceSeconds: number
  readonly nonces: DpopNonces | undefined
}

/** What the proof must match: the request and its access token. */
export interface ProofRequest {
  readonly method: string | undefined
  /** The request's normalized URI (`requestHtu`); `undefined` when it cannot be known. */
  readonly htu: string | undefined
  /** The access token, as sent. */
  readonly token: string
  /** Milliseconds since the epoch. */
  readonly now: number
}

export interface VerifiedProof {
  /** RFC 7638 SHA-256 thumbprint of the proof key. */
  readonly jkt: string
  readonly jti: string
  readonly iat: number
}

/** A proof key: its thumbprint, the key's algorithms and the signature check of each. */
interface ProofKey {
  readonly alg: Algorithm
  readonly jkt: string
  readonly check: SignatureCheck
}

/** The members of each key type that make up its RFC 7638 thumbprint, in lexicographic order. */
const THUMBPRINT_MEMBERS: Readonly<Record<string, readonly string[]>> = {
  EC: ['crv', 'kty', 'x', 'y'],
  RSA: ['e', 'kty', 'n'],
  OKP: ['crv', 'kty', 'x'],
}

/** Members of a JWK that only a private or symmetric key has. */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k']

function fail(detail: string): never {
  throw new DpopProofInvalidError(detail)
}

/**
 * The RFC 7638 thumbprint of a public JWK (its required members only), or `undefined` when one is
 * missing or not a string.
 *
 * @example
 * jwkThumbprint({ kty: 'EC', crv: 'P-256', x, y }) // 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs'
 */
export function jwkThumbprint(jwk: Readonly<Record<string, unknown>>): string | undefined {
  const members = typeof jwk.kty === 'string' ? THUMBPRINT_MEMBERS[jwk.kty] : undefined
  if (members === undefined) return undefined
  const required: Record<string, string> = {}
  for (const name of members) {
    const value = jwk[name]
    if (typeof value !== 'string') return undefined
    required[name] = value
  }
  return createHash('sha256').update(JSON.stringify(required)).digest('base64url')
}

/** The `ath` of an access token: base64url(SHA-256(its ASCII bytes)). */
export function accessTokenHash(token: string): string {
  return createHash('sha256').update(token, 'latin1').digest('base64url')
}

function decodeObject(bytes: Buffer, what: string): Record<string, unknown> {
  let value: unknown
  try {
    value = JSON.parse(bytes.toString('utf8'))
  } catch {
    return fail(`The DPoP proof ${what} is not JSON.`)
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    fail(`The DPoP proof ${what} is not a JSON object.`)
  }
  return value as Record<string, unknown>
}

/** The header checks: strict form done, then `alg`, `crit`, `typ` and a public `jwk` that fits `alg`. */
function proofKeyOf(parts: CompactParts, rules: ProofRules): ProofKey {
  let alg: Algorithm
  let header: Readonly<Record<string, unknown>>
  try {
    ;({ alg, header } = checkHeader(parts.header, { algorithms: rules.algorithms, typ: undefined }))
  } catch (error) {
    return fail((error as Error).message.replace('The token', 'The DPoP proof'))
  }
  if (header.typ !== 'dpop+jwt') fail('The DPoP proof typ must be dpop+jwt.')
  const jwk = header.jwk
  if (jwk === null || typeof jwk !== 'object' || Array.isArray(jwk)) {
    fail('The DPoP proof has no jwk header with its public key.')
  }
  const members = jwk as Record<string, unknown>
  if (PRIVATE_MEMBERS.some((name) => Object.hasOwn(members, name))) {
    fail('The DPoP proof jwk must be a public key: it carries private key material.')
  }
  const jkt = jwkThumbprint(members)
  if (jkt === undefined) fail('The DPoP proof jwk is not an EC, RSA or OKP public key.')
  let algorithms: readonly Algorithm[]
  let check: SignatureCheck
  try {
    const imported = importPublicKey(members as JsonWebKey, { where: 'DPoP', name: 'jwk' })
    algorithms = imported.algorithms
    if (!algorithms.includes(alg)) fail('The DPoP proof alg does not fit its jwk.')
    check = signatureCheck(alg, imported.key)
  } catch (error) {
    if (error instanceof DpopProofInvalidError) throw error
    return fail('The DPoP proof jwk is not an acceptable public key.')
  }
  return { alg, jkt, check }
}

/** The claim checks, after the signature verified. */
function checkClaims(
  payload: Record<string, unknown>,
  request: ProofRequest,
  rules: ProofRules,
): { jti: string; iat: number } {
  const { jti, htm, htu, iat, ath } = payload
  if (typeof jti !== 'string' || jti.length === 0 || jti.length > MAX_JTI_LENGTH) {
    fail(`The DPoP proof jti must be a string of 1 to ${MAX_JTI_LENGTH} characters.`)
  }
  if (typeof htm !== 'string') fail('The DPoP proof has no htm claim.')
  if (htm !== request.method) fail('The DPoP proof is for another HTTP method.')
  if (typeof htu !== 'string') fail('The DPoP proof has no htu claim.')
  if (request.htu === undefined) fail('The URI of the request cannot be determined.')
  // a client that sends the normalized form (the usual case) is compared without parsing it
  if (htu !== request.htu && normalizeHtu(htu) !== request.htu) {
    fail('The DPoP proof is for another URI.')
  }
  if (typeof iat !== 'number' || !Number.isFinite(iat)) fail('The DPoP proof has no iat claim.')
  const now = request.now / 1000
  if (iat > now + rules.toleranceSeconds) fail('The DPoP proof is issued in the future.')
  if (iat < now - rules.maxAgeSeconds - rules.toleranceSeconds) fail('The DPoP proof is too old.')
  if (typeof ath !== 'string') fail('The DPoP proof has no ath claim.')
  if (ath !== accessTokenHash(request.token)) fail('The DPoP proof is for another access token.')
  const nonces = rules.nonces
  if (nonces !== undefined && !nonces.accepts(payload.nonce)) {
    throw new DpopNonceRequiredError(
      nonces.current(),
      payload.nonce === undefined
        ? 'The DPoP proof must carry the server nonce.'
        : 'The DPoP proof nonce is not current.',
    )
  }
  return { jti, iat }
}

/**
 * The proof verifier of one configuration. A client signs its proofs with one key and the same
 * protected header, so a header segment whose proof verified is remembered, byte for byte, with its
 * imported key and thumbprint (at most 1024, only after a valid signature): a client's next proof
 * costs one signature verification, not a key import and a thumbprint.
 *
 * @example
 * const verify = createProofVerifier({ algorithms: new Set(['ES256']), maxAgeSeconds: 60, toleranceSeconds: 5, nonces: undefined })
 * const { jkt, jti, iat } = verify(proof, { method: 'GET', htu: 'https://api.example/orders', token, now: Date.now() })
 */
export function createProofVerifier(
  rules: ProofRules,
): (proof: string, request: ProofRequest) => VerifiedProof {
  const memo = new Map<string, ProofKey>()
  return (proof, request) => {
    if (proof.length > MAX_PROOF_BYTES)
      fail(`The DPoP proof is longer than ${MAX_PROOF_BYTES} bytes.`)
    let parts: CompactParts
    try {
      parts = parseCompact(proof)
    } catch {
      return fail('The DPoP proof is not a compact JWS.')
    }
    const segment = proof.slice(0, parts.dot1)
    const known = memo.get(segment)
    const key = known ?? proofKeyOf(parts, rules)
    let valid = false
    try {
      valid = key.check(proof.slice(0, parts.dot2), parts.signature)
    } catch {
      valid = false // malformed signatures make some OpenSSL paths throw
    }
    if (!valid) fail('The DPoP proof signature is invalid.')
    if (known === undefined) {
      if (memo.size >= KEY_MEMO_MAX) memo.delete(memo.keys().next().value as string)
      memo.set(segment, key)
    }
    const claims = checkClaims(decodeObject(parts.payload, 'payload'), request, rules)
    return { jkt: key.jkt, jti: claims.jti, iat: claims.iat }
  }
}
