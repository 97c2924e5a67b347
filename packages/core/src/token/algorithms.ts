import { constants, createHmac, type KeyObject, timingSafeEqual, verify } from 'node:crypto'

/** Every JWS algorithm this library verifies. `none` is not one of them, ever. */
export const SUPPORTED_ALGORITHMS = [
  'HS256',
  'HS384',
  'HS512',
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
] as const

export type Algorithm = (typeof SUPPORTED_ALGORITHMS)[number]

const SUPPORTED = new Set<string>(SUPPORTED_ALGORITHMS)

export function isAlgorithm(value: unknown): value is Algorithm {
  return typeof value === 'string' && SUPPORTED.has(value)
}

export function isHmac(alg: Algorithm): boolean {
  return alg.charCodeAt(0) === 0x48 /* H */
}

/** Bytes of the hash behind an HMAC algorithm: the shortest secret we accept for it. */
export function hmacSecretBytes(alg: Algorithm): number {
  return alg === 'HS256' ? 32 : alg === 'HS384' ? 48 : 64
}

/** The algorithms a key can serve, by its type and curve (before the allowlist narrows them). */
export function algorithmsForKey(key: KeyObject): Algorithm[] {
  if (key.type === 'secret') return ['HS256', 'HS384', 'HS512']
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512']
    case 'rsa-pss':
      return ['PS256', 'PS384', 'PS512']
    case 'ec': {
      const curve = key.asymmetricKeyDetails?.namedCurve
      if (curve === 'prime256v1') return ['ES256']
      if (curve === 'secp384r1') return ['ES384']
      if (curve === 'secp521r1') return ['ES512']
      return []
    }
    case 'ed25519':
      return ['EdDSA', 'Ed25519']
    case 'ed448':
      return ['EdDSA']
    default:
      return []
  }
}

/** A function that checks one signature; built once per (key, algorithm). */
export type SignatureCheck = (signingInput: string, signature: Buffer) => boolean

const HASH: Record<string, string> = { '256': 'sha256', '384': 'sha384', '512': 'sha512' }
const EC_SIGNATURE_BYTES: Record<string, number> = { ES256: 64, ES384: 96, ES512: 132 }

/**
 * Builds the synchronous `node:crypto` check for a key and an algorithm. Keys must already be
 * imported (as `KeyObject`s) and matched to the algorithm by `algorithmsForKey`.
 */
export function signatureCheck(alg: Algorithm, key: KeyObject): SignatureCheck {
  if (alg === 'EdDSA' || alg === 'Ed25519') {
    return (input, sig) => verify(null, Buffer.from(input, 'latin1'), key, sig)
  }
  const hash = HASH[alg.slice(2)]!
  switch (alg.slice(0, 2)) {
    case 'HS': {
      const size = hmacSecretBytes(alg)
      return (input, sig) =>
        sig.length === size && timingSafeEqual(createHmac(hash, key).update(input).digest(), sig)
    }
    case 'RS':
      return (input, sig) => verify(hash, Buffer.from(input, 'latin1'), key, sig)
    case 'PS': {
      const options = {
        key,
        padding: constants.RSA_PKCS1_PSS_PADDING,
        saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
      }
      return (input, sig) => verify(hash, Buffer.from(input, 'latin1'), options, sig)
    }
    default: {
      const size = EC_SIGNATURE_BYTES[alg]!
      const options = { key, dsaEncoding: 'ieee-p1363' as const }
      return (input, sig) =>
        sig.length === size && verify(hash, Buffer.from(input, 'latin1'), options, sig)
    }
  }
}
