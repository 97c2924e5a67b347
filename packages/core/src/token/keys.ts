import { createPublicKey, createSecretKey, type JsonWebKey, KeyObject } from 'node:crypto'
import {
  type Algorithm,
  algorithmsForKey,
  hmacSecretBytes,
  isAlgorithm,
  type SignatureCheck,
  signatureCheck,
} from './algorithms.js'
import { hasRocaFingerprint, rsaModulus } from './weak-keys.js'

/** A verification key as the user may give it. */
export type PublicKeyInput = string | JsonWebKey | KeyObject
export type SecretInput = string | Uint8Array | KeyObject | JsonWebKey

/** One entry of `keys: [...]`, for rotation: a PEM, a JWK, a KeyObject, or a labelled key. */
export type KeyInput =
  | PublicKeyInput
  | { kid?: string; publicKey: PublicKeyInput }
  | { kid?: string; secret: SecretInput }

/** A key ready to verify: its `kid`, and one prebuilt signature check per allowed algorithm. */
export interface VerifyKey {
  readonly kid: string | undefined
  readonly hmac: boolean
  readonly checks: ReadonlyMap<Algorithm, SignatureCheck>
}

export const MIN_RSA_BITS = 2048

/** A key after import, before the allowlist is applied. */
export interface ImportedKey {
  readonly kid: string | undefined
  readonly key: KeyObject
  /** The algorithms the key can serve (narrowed by a JWK's `alg`). */
  readonly algorithms: readonly Algorithm[]
}

/** What to pass instead of a JWK Set where one key is expected. */
const JWKS_HINT =
  'pass its keys as `keys: jwks.keys` (rotation by kid), or its URL as `jwksUri` when it is served'

function fail(option: string, message: string): never {
  throw new TypeError(`${option}: ${message}`)
}

/** Checks the `use` and `key_ops` members of a JWK: the key must be meant for verifying signatures. */
function checkJwkPurpose(jwk: JsonWebKey, option: string, op: 'verify' | 'sign'): void {
  if (jwk.use !== undefined && jwk.use !== 'sig')
    fail(option, 'the JWK is not for signatures ("use")')
  const ops = jwk.key_ops
  if (ops !== undefined && !(Array.isArray(ops) && (ops.includes(op) || ops.includes('verify')))) {
    fail(option, 'the JWK\'s "key_ops" do not allow verifying signatures')
  }
}

/**
 * Imports an HMAC secret: a string (its UTF-8 bytes), bytes, a secret KeyObject, or an `oct` JWK.
 * The length is checked against the allowed algorithms by `toVerifyKey`.
 */
export function importSecret(input: SecretInput, option = 'secret', kid?: string): ImportedKey {
  let key: KeyObject
  let jwkAlg: unknown
  if (input instanceof KeyObject) {
    if (input.type !== 'secret') fail(option, 'expected a secret KeyObject')
    key = input
  } else if (typeof input === 'string' || input instanceof Uint8Array) {
    if (input.length === 0) fail(option, 'the secret is empty')
    key = createSecretKey(typeof input === 'string' ? Buffer.from(input, 'utf8') : input)
  } else if (input !== null && typeof input === 'object' && input.kty === 'oct') {
    checkJwkPurpose(input, option, 'verify')
    if (typeof input.k !== 'string' || input.k === '')
      fail(option, 'the JWK has no key bytes ("k")')
    key = createSecretKey(Buffer.from(input.k, 'base64url'))
    jwkAlg = input.alg
    if (kid === undefined && typeof input.kid === 'string') kid = input.kid
  } else {
    return fail(option, 'expected a string, a Uint8Array, a secret KeyObject or an "oct" JWK')
  }
  let algorithms = algorithmsForKey(key)
  if (jwkAlg !== undefined) {
    if (!isAlgorithm(jwkAlg) || !algorithms.includes(jwkAlg))
      fail(option, 'the JWK\'s "alg" is not an HMAC algorithm')
    algorithms = [jwkAlg]
  }
  return { kid, key, algorithms }
}

function isWhitespace(code: number): boolean {
  return code === 0x20 || code === 0x09 || code === 0x0a || code === 0x0d
}

/**
 * Imports a public key from a PEM (SPKI or certificate), a public JWK or a public KeyObject.
 * Refuses private keys, RSA keys under 2048 bits or with a bad exponent, RSA keys with the ROCA
 * fingerprint (see `hasRocaFingerprint`), EC points not on their curve, unsupported curves, a
 * JWK whose `use`/`key_ops` are not for verifying or whose `alg` does not fit the key, and a PEM
 * with anything but whitespace before `-----BEGIN` (a sign that text was pasted around the key).
 *
 * @example
 * const imported = importPublicKey(pem, 'createAuth: publicKey') // throws TypeError
 */
export function importPublicKey(
  input: PublicKeyInput,
  option = 'publicKey',
  kid?: string,
): ImportedKey {
  let key: KeyObject
  let jwkAlg: unknown
  if (input instanceof KeyObject) {
    key = input
  } else if (typeof input === 'string') {
    let start = 0
    while (start < input.length && isWhitespace(input.charCodeAt(start))) start++
    if (input.startsWith('{', start)) {
      fail(
        option,
        `this is JSON, not a PEM; pass the parsed JWK, or for a JWK Set (keygen's jwks.json) ${JWKS_HINT}`,
      )
    }
    if (!input.startsWith('-----BEGIN', start)) {
      fail(option, 'a PEM key must start with "-----BEGIN"; remove anything before it')
    }
    if (input.includes('PRIVATE KEY-----')) {
      fail(option, 'this is a private key; give the public key (never the private one) to verify')
    }
    try {
      key = createPublicKey(input.slice(start)) // OpenSSL refuses spaces before -----BEGIN
    } catch (cause) {
      throw new TypeError(`${option}: the PEM could not be parsed`, { cause })
    }
  } else if (input !== null && typeof input === 'object' && typeof input.kty === 'string') {
    if (input.kty === 'oct') fail(option, 'a symmetric JWK is a secret; pass it as `secret`')
    if ('d' in input) fail(option, 'this JWK is a private key; give the public key')
    checkJwkPurpose(input, option, 'verify')
    try {
      key = createPublicKey({ key: input, format: 'jwk' })
    } catch (cause) {
      throw new TypeError(`${option}: the JWK could not be imported`, { cause })
    }
    jwkAlg = input.alg
    if (kid === undefined && typeof input.kid === 'string') kid = input.kid
  } else if (
    input !== null &&
    typeof input === 'object' &&
    Array.isArray((input as { keys?: unknown }).keys)
  ) {
    return fail(option, `this is a JWK Set ({ keys: [...] }), not one key; ${JWKS_HINT}`)
  } else {
    return fail(option, 'expected a PEM string, a public JWK or a KeyObject')
  }
  if (key.type !== 'public') fail(option, 'expected a public key')
  const bits = key.asymmetricKeyDetails?.modulusLength
  if (bits !== undefined && bits < MIN_RSA_BITS) {
    fail(option, `RSA keys must have at least ${MIN_RSA_BITS} bits (this one has ${bits})`)
  }
  const exponent = key.asymmetricKeyDetails?.publicExponent
  if (exponent !== undefined && (exponent < 3n || exponent % 2n === 0n)) {
    fail(option, 'the RSA public exponent is not valid')
  }
  const modulus = rsaModulus(key)
  if (modulus !== undefined && hasRocaFingerprint(modulus)) {
    fail(
      option,
      'the RSA key has the ROCA fingerprint (CVE-2017-15361) and can be factored; replace it',
    )
  }
  let algorithms = algorithmsForKey(key)
  if (algorithms.length === 0) fail(option, 'unsupported key type or curve')
  if (jwkAlg !== undefined) {
    if (!isAlgorithm(jwkAlg) || !algorithms.includes(jwkAlg)) {
      fail(option, `the JWK's "alg" does not fit its key type`)
    }
    algorithms = [jwkAlg]
  }
  return { kid, key, algorithms }
}

/**
 * Checks a set of imported keys as a whole, as a key set from the configuration must be: HMAC
 * secrets and public keys are not mixed (a verifier holding both invites algorithm confusion),
 * and no two keys of the same kind share a `kid` (RFC 7517 section 4.5: the `kid` must tell the
 * keys apart, so a duplicate makes key selection ambiguous). Throws a `TypeError` naming `option`.
 *
 * @example
 * assertKeySet(keys.map((k, i) => importKeyInput(k, `keys[${i}]`)), 'createAuth: keys')
 */
export function assertKeySet(keys: readonly ImportedKey[], option: string): void {
  const secrets = keys.filter((k) => k.key.type === 'secret').length
  if (secrets !== 0 && secrets !== keys.length) {
    fail(option, 'HMAC secrets and public keys cannot be mixed in one key set')
  }
  const seen = new Set<string>()
  for (const { kid, key } of keys) {
    if (kid === undefined) continue
    const kind = key.type === 'secret' ? 'oct' : key.asymmetricKeyType?.replace('-pss', '')
    const id = `${kind}\u0000${kid}`
    if (seen.has(id)) fail(option, 'two keys share the same "kid"; give each key its own')
    seen.add(id)
  }
}

/** Imports one `keys: [...]` entry. */
export function importKeyInput(input: KeyInput, option: string): ImportedKey {
  if (typeof input === 'object' && input !== null && !(input instanceof KeyObject)) {
    if ((input as JsonWebKey).kty === 'oct') return importSecret(input as JsonWebKey, option)
    if ('secret' in input) {
      const entry = input as { kid?: string; secret: SecretInput }
      return importSecret(entry.secret, option, entry.kid)
    }
    if ('publicKey' in input) {
      const entry = input as { kid?: string; publicKey: PublicKeyInput }
      return importPublicKey(entry.publicKey, option, entry.kid)
    }
  }
  return importPublicKey(input as PublicKeyInput, option)
}

/**
 * Narrows an imported key to the allowlist and prebuilds its checks. Returns `undefined` when the
 * key serves none of the allowed algorithms. Throws when an HMAC secret is too short for an
 * allowed HS algorithm (it must be at least as long as the hash output).
 */
export function toVerifyKey(
  imported: ImportedKey,
  allowed: ReadonlySet<Algorithm>,
  option: string,
): VerifyKey | undefined {
  const checks = new Map<Algorithm, SignatureCheck>()
  for (const alg of imported.algorithms) {
    if (!allowed.has(alg)) continue
    if (imported.key.type === 'secret') {
      const need = hmacSecretBytes(alg)
      const have = imported.key.symmetricKeySize ?? 0
      if (have < need) fail(option, `${alg} needs a secret of at least ${need} bytes (got ${have})`)
    }
    checks.set(alg, signatureCheck(alg, imported.key))
  }
  if (checks.size === 0) return undefined
  return { kid: imported.kid, hmac: imported.key.type === 'secret', checks }
}
