import { createPublicKey, createSecretKey, type JsonWebKey, KeyObject } from 'node:crypto'
import { type Example, invalid } from '../validate.js'
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

/**
 * The key option being imported, for the validation kit's message (`<where>: <name> must be …`):
 * the factory a user called and the option as they write it (`createAuth`, `keys[1]`).
 */
export interface KeyOption {
  readonly where: string
  readonly name: string
}

/** What to pass instead of a JWK Set where one key is expected. */
const JWKS_HINT =
  'give its keys as `keys: jwks.keys` (rotation by kid), or its URL as `jwksUri` when it is served'

const PEM_EXAMPLE = "readFileSync('public.pem', 'utf8')"

function fail(option: KeyOption, what: string, example?: Example, cause?: unknown): never {
  invalid(option.where, option.name, what, example, cause)
}

/** Checks the `use` and `key_ops` members of a JWK: the key must be meant for verifying signatures. */
function checkJwkPurpose(jwk: JsonWebKey, option: KeyOption, op: 'verify' | 'sign'): void {
  if (jwk.use !== undefined && jwk.use !== 'sig')
    fail(option, 'a JWK for signatures ("use": "sig")', "use: 'sig'")
  const ops = jwk.key_ops
  if (ops !== undefined && !(Array.isArray(ops) && (ops.includes(op) || ops.includes('verify')))) {
    fail(option, 'a JWK whose "key_ops" allow verifying signatures', "key_ops: ['verify']")
  }
}

/**
 * Imports an HMAC secret: a string (its UTF-8 bytes), bytes, a secret KeyObject, or an `oct` JWK.
 * The length is checked against the allowed algorithms by `toVerifyKey`.
 */
export function importSecret(input: SecretInput, option: KeyOption, kid?: string): ImportedKey {
  let key: KeyObject
  let jwkAlg: unknown
  if (input instanceof KeyObject) {
    if (input.type !== 'secret') fail(option, 'a secret KeyObject', 'createSecretKey(bytes)')
    key = input
  } else if (typeof input === 'string' || input instanceof Uint8Array) {
    if (input.length === 0) fail(option, 'a non-empty secret', 'process.env.JWT_SECRET')
    key = createSecretKey(typeof input === 'string' ? Buffer.from(input, 'utf8') : input)
  } else if (input !== null && typeof input === 'object' && input.kty === 'oct') {
    checkJwkPurpose(input, option, 'verify')
    if (typeof input.k !== 'string' || input.k === '')
      fail(option, 'an "oct" JWK with its key bytes ("k")', "{ kty: 'oct', k }")
    key = createSecretKey(Buffer.from(input.k, 'base64url'))
    jwkAlg = input.alg
    if (kid === undefined && typeof input.kid === 'string') kid = input.kid
  } else {
    return fail(
      option,
      'a string, a Uint8Array, a secret KeyObject or an "oct" JWK',
      'process.env.JWT_SECRET',
    )
  }
  let algorithms = algorithmsForKey(key)
  if (jwkAlg !== undefined) {
    if (!isAlgorithm(jwkAlg) || !algorithms.includes(jwkAlg))
      fail(option, 'a JWK whose "alg" is an HMAC algorithm', "alg: 'HS256'")
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
 * const imported = importPublicKey(pem, { where: 'createAuth', name: 'publicKey' }) // throws TypeError
 */
export function importPublicKey(
  input: PublicKeyInput,
  option: KeyOption,
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
        `a PEM or a parsed JWK, not JSON text; for a JWK Set, such as keygen's jwks.json, ${JWKS_HINT}`,
        'JSON.parse(text) for one JWK',
      )
    }
    if (!input.startsWith('-----BEGIN', start)) {
      fail(option, 'a PEM that starts with "-----BEGIN" (remove anything before it)', PEM_EXAMPLE)
    }
    if (input.includes('PRIVATE KEY-----')) {
      fail(option, 'a public key, never the private one', PEM_EXAMPLE)
    }
    try {
      key = createPublicKey(input.slice(start)) // OpenSSL refuses spaces before -----BEGIN
    } catch (cause) {
      fail(option, 'a PEM that parses (SPKI or certificate)', PEM_EXAMPLE, cause)
    }
  } else if (input !== null && typeof input === 'object' && typeof input.kty === 'string') {
    if (input.kty === 'oct')
      fail(option, 'a public key (a symmetric JWK is a secret: give it as `secret`)', 'secret: jwk')
    if ('d' in input) fail(option, 'a public JWK, without "d"', "{ kty: 'EC', crv, x, y }")
    checkJwkPurpose(input, option, 'verify')
    try {
      key = createPublicKey({ key: input, format: 'jwk' })
    } catch (cause) {
      fail(option, 'a JWK that imports as a public key', "{ kty: 'RSA', n, e }", cause)
    }
    jwkAlg = input.alg
    if (kid === undefined && typeof input.kid === 'string') kid = input.kid
  } else if (
    input !== null &&
    typeof input === 'object' &&
    Array.isArray((input as { keys?: unknown }).keys)
  ) {
    return fail(option, `one key, not a JWK Set ({ keys: [...] }): ${JWKS_HINT}`, 'keys: jwks.keys')
  } else {
    return fail(option, 'a PEM string, a public JWK or a KeyObject', PEM_EXAMPLE)
  }
  if (key.type !== 'public') fail(option, 'a public key', 'createPublicKey(pem)')
  const bits = key.asymmetricKeyDetails?.modulusLength
  if (bits !== undefined && bits < MIN_RSA_BITS) {
    fail(
      option,
      `an RSA key of at least ${MIN_RSA_BITS} bits (this one has ${bits})`,
      'one from `authframework keygen`',
    )
  }
  const exponent = key.asymmetricKeyDetails?.publicExponent
  if (exponent !== undefined && (exponent < 3n || exponent % 2n === 0n)) {
    fail(option, 'an RSA key with a valid public exponent (odd, 3 or more)', 65537)
  }
  const modulus = rsaModulus(key)
  if (modulus !== undefined && hasRocaFingerprint(modulus)) {
    fail(
      option,
      'an RSA key without the ROCA fingerprint (CVE-2017-15361: this one can be factored; replace it)',
      'one from `authframework keygen`',
    )
  }
  let algorithms = algorithmsForKey(key)
  if (algorithms.length === 0)
    fail(option, 'a key of a supported type or curve', 'RSA, P-256, P-384, P-521 or Ed25519')
  if (jwkAlg !== undefined) {
    if (!isAlgorithm(jwkAlg) || !algorithms.includes(jwkAlg)) {
      fail(option, `a JWK whose "alg" fits its key type`, "alg: 'ES256' on a P-256 key")
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
 * const at = (name: string) => ({ where: 'createAuth', name })
 * assertKeySet(keys.map((k, i) => importKeyInput(k, at(`keys[${i}]`))), at('keys'))
 */
export function assertKeySet(keys: readonly ImportedKey[], option: KeyOption): void {
  const secrets = keys.filter((k) => k.key.type === 'secret').length
  if (secrets !== 0 && secrets !== keys.length) {
    fail(option, 'all HMAC secrets or all public keys, not a mix', '[pemA, pemB]')
  }
  const seen = new Set<string>()
  for (const { kid, key } of keys) {
    if (kid === undefined) continue
    const kind = key.type === 'secret' ? 'oct' : key.asymmetricKeyType?.replace('-pss', '')
    const id = `${kind}\u0000${kid}`
    if (seen.has(id)) {
      fail(
        option,
        'keys with distinct "kid"s',
        "[{ kid: 'a', publicKey: pemA }, { kid: 'b', publicKey: pemB }]",
      )
    }
    seen.add(id)
  }
}

/** Imports one `keys: [...]` entry. */
export function importKeyInput(input: KeyInput, option: KeyOption): ImportedKey {
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
  option: KeyOption,
): VerifyKey | undefined {
  const checks = new Map<Algorithm, SignatureCheck>()
  for (const alg of imported.algorithms) {
    if (!allowed.has(alg)) continue
    if (imported.key.type === 'secret') {
      const need = hmacSecretBytes(alg)
      const have = imported.key.symmetricKeySize ?? 0
      if (have < need) {
        fail(
          option,
          `at least ${need} bytes for ${alg} (this one has ${have})`,
          `randomBytes(${need})`,
        )
      }
    }
    checks.set(alg, signatureCheck(alg, imported.key))
  }
  if (checks.size === 0) return undefined
  return { kid: imported.kid, hmac: imported.key.type === 'secret', checks }
}
