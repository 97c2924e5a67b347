import { TokenInvalidError } from '../errors.js'
import { deepFreeze, type MaybePromise } from '../util.js'
import type { Algorithm } from './algorithms.js'
import { type CompactParts, compactDots, decodeCanonical, notCanonical } from './compact.js'
import type { IssuerRules } from './issuers.js'
import type { KeyResolver } from './key-resolver.js'
import type { VerifyKey } from './keys.js'

/** Header rules, resolved once. */
export interface HeaderRules {
  readonly algorithms: ReadonlySet<Algorithm>
  /** Expected `typ`, compared as jose does (case-insensitive, `application/` optional). */
  readonly typ: string | undefined
}

/** A token whose signature verified: its protected header and its (not yet checked) claims. */
export interface VerifiedJws {
  readonly header: Readonly<Record<string, unknown>>
  readonly payload: Record<string, unknown>
  /** With `issuers`: the claim rules of the issuer that verified it, instead of the instance's. */
  readonly issuer?: IssuerRules
}

function decodeJsonObject(bytes: Buffer, what: string) {
  let value: unknown
  try {
    value = JSON.parse(bytes.toString('utf8'))
  } catch {
    throw new TokenInvalidError(`The token ${what} is not JSON.`)
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new TokenInvalidError(`The token ${what} is not a JSON object.`)
  }
  return value as Record<string, unknown>
}

function normalizeTyp(value: string): string {
  const lower = value.toLowerCase()
  return lower.startsWith('application/') ? lower.slice(12) : lower
}

/** Decodes and checks the protected header: allowlisted `alg`, no `crit`, no unencoded payload. */
export function checkHeader(bytes: Buffer, rules: HeaderRules): SignedHeader {
  const header = decodeJsonObject(bytes, 'header')
  const alg = header.alg
  if (typeof alg !== 'string' || !rules.algorithms.has(alg as Algorithm)) {
    throw new TokenInvalidError('The token algorithm is not allowed.')
  }
  // No critical extension is understood here (RFC 7515 section 4.1.11), so any `crit` is refused,
  // and with it the unencoded payload option of RFC 7797.
  if (header.crit !== undefined)
    throw new TokenInvalidError('The token has critical header parameters.')
  if (header.b64 !== undefined && header.b64 !== true) {
    throw new TokenInvalidError('Unencoded payloads are not accepted.')
  }
  const kid = header.kid
  if (kid !== undefined && typeof kid !== 'string')
    throw new TokenInvalidError('The "kid" header must be a string.')
  if (rules.typ !== undefined) {
    if (typeof header.typ !== 'string' || normalizeTyp(header.typ) !== rules.typ) {
      throw new TokenInvalidError('The "typ" header does not match.')
    }
  }
  // jku, x5u, jwk and x5c are never followed nor trusted: keys come from the configuration only.
  return { header, alg: alg as Algorithm, kid: kid as string | undefined }
}

export function expectedTyp(typ: string | undefined): string | undefined {
  return typ === undefined ? undefined : normalizeTyp(typ)
}

function checkSignature(
  input: string,
  signature: Buffer,
  alg: Algorithm,
  keys: readonly VerifyKey[],
): void {
  if (keys.length === 0) throw new TokenInvalidError('No key can verify the token.')
  for (const key of keys) {
    let ok = false
    try {
      ok = key.checks.get(alg)!(input, signature)
    } catch {
      ok = false // malformed signatures make some OpenSSL paths throw
    }
    if (ok) return
  }
  throw new TokenInvalidError('The token signature is invalid.')
}

/** The signature layer's result: the protected header, its `alg` and its `kid`. */
export interface SignedHeader {
  readonly header: Readonly<Record<string, unknown>>
  readonly alg: Algorithm
  readonly kid: string | undefined
}

/**
 * The signature layer of a compact JWS that passed the strict compact check: header rules, key
 * selection and the signature, without looking at the payload (which may be any bytes, as in a
 * detached or non-JWT JWS). Synchronous when the resolver is.
 *
 * @example
 * const { alg, kid } = verifySignature(parseCompact(token), rules, resolver) // throws TokenInvalidError
 */
export function verifySignature(
  parts: CompactParts,
  rules: HeaderRules,
  resolver: KeyResolver,
): MaybePromise<SignedHeader> {
  const signed: SignedHeader = checkHeader(parts.header, rules)
  return withKeys(resolver, signed, (keys) => {
    checkSignature(parts.token.slice(0, parts.dot2), parts.signature, signed.alg, keys)
    return signed
  })
}

/** Resolves the keys for a checked header and runs `then` on them: synchronously when the resolver is. */
function withKeys<T>(
  resolver: KeyResolver,
  signed: SignedHeader,
  then: (keys: readonly VerifyKey[]) => T,
): MaybePromise<T> {
  const keys = resolver.resolve(signed.alg, signed.kid)
  return Array.isArray(keys)
    ? then(keys as readonly VerifyKey[])
    : (keys as Promise<readonly VerifyKey[]>).then(then)
}

/** Most distinct protected headers remembered; an issuer uses a handful (one per key and `typ`). */
const HEADER_MEMO_MAX = 32

/**
 * The verifier the pipeline runs: the strict compact check, the header rules, the signature and
 * the payload decode (`parseCompact` + `verifySignature` + a JSON object payload), with one saving. Protected headers repeat
 * (an issuer signs every token with the same few), so a header segment that already opened a
 * verified token is remembered, byte for byte, with its checked result: the next token with that
 * exact segment skips its decode, its canonical check and the header rules. Only headers of
 * tokens whose signature verified are remembered (a forger cannot fill the memo), at most
 * `HEADER_MEMO_MAX`, and the key is still looked up for every token (rotation holds).
 *
 * @example
 * const verify = createJwsVerifier(rules, resolver)
 * const { header, payload } = verify(token) // throws TokenInvalidError; a promise for remote keys
 */
export function createJwsVerifier(
  rules: HeaderRules,
  resolver: KeyResolver,
): (token: string) => MaybePromise<VerifiedJws> {
  const memo = new Map<string, SignedHeader>()
  return (token) => {
    const dot1 = token.indexOf('.')
    const dot2 = compactDots(token, dot1)
    const segment = token.slice(0, dot1)
    const known = memo.get(segment)
    const header = known === undefined ? decodeCanonical(token, 0, dot1) : undefined
    const payload =
      (known !== undefined || header !== undefined) && decodeCanonical(token, dot1 + 1, dot2)
    const signature = payload && decodeCanonical(token, dot2 + 1, token.length)
    if (!signature) throw notCanonical()
    const signed = known ?? checkHeader(header!, rules)
    return withKeys(resolver, signed, (keys): VerifiedJws => {
      checkSignature(token.slice(0, dot2), signature, signed.alg, keys)
      if (known === undefined) {
        if (memo.size >= HEADER_MEMO_MAX) memo.clear()
        memo.set(segment, Object.freeze({ ...signed, header: deepFreeze(signed.header) }))
      }
      return { header: signed.header, payload: decodeJsonObject(payload as Buffer, 'payload') }
    })
  }
}
