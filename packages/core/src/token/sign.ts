import {
  constants,
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  sign as cryptoSign,
  generateKeyPairSync,
  type JsonWebKey,
  KeyObject,
  randomBytes,
} from 'node:crypto'
import { deflateRawSync } from 'node:zlib'
import { invalid, positiveInteger } from '../validate.js'
import {
  type Algorithm,
  algorithmsForKey,
  hmacSecretBytes,
  isAlgorithm,
  isHmac,
} from './algorithms.js'
import { COMPRESSED_PREFIX } from './compressed.js'
import { importSecret, MIN_RSA_BITS, type SecretInput } from './keys.js'

/** Options of `createSigner`. Without a key, a fresh key pair is generated (the embedded default). */
export interface SignerOptions {
  /** The signing key: PEM (PKCS#8 or SEC1/PKCS#1), private JWK or KeyObject. */
  privateKey?: string | JsonWebKey | KeyObject
  /** HMAC secret, for HS256/384/512. */
  secret?: SecretInput
  /** Default RS256. */
  algorithm?: Algorithm
  issuer?: string
  audience?: string | readonly string[]
  /** Token lifetime. Default 900 (15 minutes). */
  ttlSeconds?: number
  /** The `kid` header; default the RFC 7638 thumbprint of the public key. */
  keyId?: string
  /**
   * Opt-in: issue the `compressed:` form for tokens longer than this many bytes, when it is really
   * shorter (e.g. 1024). Default `false`: standard compact JWTs only. Only AuthFramework's own
   * verifier (`createAuth`, `compressed` option) reads `compressed:` tokens; other JWT libraries
   * and gateways do not, so enable it only where every verifier is AuthFramework.
   */
  compressAboveBytes?: number | false
  clock?: () => number
}

/** Claims to sign; `sub` is required, `perms` are the granted permissions. */
export interface SignClaims {
  sub: string
  perms?: readonly string[]
  [claim: string]: unknown
}

export interface Signer {
  /** Signs a token: `sub`, `iat`, `exp`, `iss`, `aud`, `perms` and a `jti` (random unless given), plus any other claims. */
  sign(claims: SignClaims, options?: { ttlSeconds?: number }): string
  /** The public JWK Set that verifies this signer's tokens (empty for HMAC). */
  exportJwks(): { keys: JsonWebKey[] }
  /** The public key (undefined for HMAC), e.g. for `createAuth({ publicKey })`. */
  readonly publicKey: KeyObject | undefined
  readonly algorithm: Algorithm
  readonly keyId: string | undefined
}

const WHERE = 'createSigner'

const b64json = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')

/** RFC 7638 JWK thumbprint (SHA-256, base64url) of a public JWK. */
export function jwkThumbprint(jwk: JsonWebKey): string {
  const members: Record<string, readonly string[]> = {
    RSA: ['e', 'kty', 'n'],
    EC: ['crv', 'kty', 'x', 'y'],
    OKP: ['crv', 'kty', 'x'],
    oct: ['k', 'kty'],
  }
  const names = members[jwk.kty as string]
  if (names === undefined) throw new TypeError(`jwkThumbprint: unsupported kty ${String(jwk.kty)}`)
  const canonical = `{${names.map((n) => `"${n}":${JSON.stringify(jwk[n])}`).join(',')}}`
  return createHash('sha256').update(canonical).digest('base64url')
}

/** The asymmetric algorithms a key can be generated for (HMAC secrets are yours to make). */
export const KEYGEN_ALGORITHMS = [
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
] as const satisfies readonly Algorithm[]

/**
 * Generates a private signing key for an asymmetric algorithm: RSA 2048, the matching EC curve, or
 * Ed25519.
 *
 * @example
 * const privateKey = generateSigningKey('ES256')
 */
export function generateSigningKey(
  algorithm: (typeof KEYGEN_ALGORITHMS)[number] | 'Ed25519',
): KeyObject {
  const type = algorithm.slice(0, 2)
  if (type === 'RS' || type === 'PS')
    return generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey
  if (algorithm === 'ES256') return generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey
  if (algorithm === 'ES384') return generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey
  if (algorithm === 'ES512') return generateKeyPairSync('ec', { namedCurve: 'P-521' }).privateKey
  return generateKeyPairSync('ed25519').privateKey
}

type RawSign = (input: string) => Buffer

function rawSigner(algorithm: Algorithm, key: KeyObject): RawSign {
  const hash = `sha${algorithm.slice(-3)}`
  if (isHmac(algorithm)) return (input) => createHmac(hash, key).update(input).digest()
  if (algorithm === 'EdDSA' || algorithm === 'Ed25519')
    return (input) => cryptoSign(null, Buffer.from(input), key)
  if (algorithm.startsWith('PS')) {
    const opts = {
      key,
      padding: constants.RSA_PKCS1_PSS_PADDING,
      saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
    }
    return (input) => cryptoSign(hash, Buffer.from(input), opts)
  }
  if (algorithm.startsWith('ES')) {
    const opts = { key, dsaEncoding: 'ieee-p1363' as const }
    return (input) => cryptoSign(hash, Buffer.from(input), opts)
  }
  return (input) => cryptoSign(hash, Buffer.from(input), key)
}

/**
 * Issues standard compact JWTs that `createAuth` with the matching key (or any JWT library)
 * verifies: short claim names and a random `jti`. The `compressed:` form only when asked for
 * (`compressAboveBytes`).
 *
 * @example
 * const signer = createSigner({ algorithm: 'ES256', issuer: 'https://issuer.example', audience: 'orders-api' })
 * const token = signer.sign({ sub: 'user-42', perms: ['orders:read'] })
 * const auth = createAuth({ publicKey: signer.publicKey!, issuer: 'https://issuer.example', audience: 'orders-api' })
 */
export function createSigner(options: SignerOptions = {}): Signer {
  const algorithm = options.algorithm ?? (options.secret !== undefined ? 'HS256' : 'RS256')
  if (!isAlgorithm(algorithm)) {
    invalid(
      WHERE,
      'algorithm',
      `supported (${JSON.stringify(algorithm)} is not supported)`,
      "'ES256'",
    )
  }
  if (options.secret !== undefined && options.privateKey !== undefined) {
    invalid(WHERE, 'secret', 'left out when privateKey is given: give either, not both')
  }
  let key: KeyObject
  let publicKey: KeyObject | undefined
  if (isHmac(algorithm)) {
    if (options.secret === undefined) invalid(WHERE, 'secret', `given: ${algorithm} needs a secret`)
    key = importSecret(options.secret, { where: WHERE, name: 'secret' }).key
    const need = hmacSecretBytes(algorithm)
    if ((key.symmetricKeySize ?? 0) < need) {
      invalid(WHERE, 'secret', `at least ${need} bytes for ${algorithm}`, 'randomBytes(32)')
    }
  } else {
    if (options.secret !== undefined) {
      invalid(
        WHERE,
        'algorithm',
        `an HMAC algorithm with a secret (a secret cannot sign ${algorithm})`,
        "'HS256'",
      )
    }
    const input = options.privateKey
    if (input === undefined)
      key = generateSigningKey(algorithm as (typeof KEYGEN_ALGORITHMS)[number])
    else if (input instanceof KeyObject) key = input
    else if (typeof input === 'string') key = createPrivateKey(input)
    else key = createPrivateKey({ key: input, format: 'jwk' })
    if (key.type !== 'private') invalid(WHERE, 'privateKey', 'a private key')
    const bits = key.asymmetricKeyDetails?.modulusLength
    if (bits !== undefined && bits < MIN_RSA_BITS) {
      invalid(WHERE, 'privateKey', `an RSA key of at least ${MIN_RSA_BITS} bits`)
    }
    publicKey = createPublicKey(key)
    if (!algorithmsForKey(publicKey).includes(algorithm)) {
      invalid(WHERE, 'algorithm', `one the key type fits (${algorithm} does not)`)
    }
  }
  const publicJwk = publicKey?.export({ format: 'jwk' })
  const keyId = options.keyId ?? (publicJwk ? jwkThumbprint(publicJwk) : undefined)
  const ttlSeconds = positiveInteger(options.ttlSeconds ?? 900, 'ttlSeconds', 900, WHERE)
  const compressAbove = options.compressAboveBytes ?? false
  const clock = options.clock ?? Date.now
  const header = b64json(
    keyId === undefined
      ? { alg: algorithm, typ: 'JWT' }
      : { alg: algorithm, typ: 'JWT', kid: keyId },
  )
  const raw = rawSigner(algorithm, key)

  return {
    algorithm,
    keyId,
    publicKey,
    sign(claims, signOptions) {
      if (typeof claims?.sub !== 'string' || claims.sub === '') {
        invalid('signer.sign', 'claims.sub', 'a non-empty string', "'user-42'")
      }
      const now = Math.floor(clock() / 1000)
      const payload: Record<string, unknown> = {
        ...claims,
        iat: now,
        exp: now + (signOptions?.ttlSeconds ?? ttlSeconds),
        jti: typeof claims.jti === 'string' ? claims.jti : randomBytes(16).toString('base64url'),
      }
      if (options.issuer !== undefined) payload.iss = options.issuer
      if (options.audience !== undefined) payload.aud = options.audience
      const input = `${header}.${b64json(payload)}`
      const jwt = `${input}.${raw(input).toString('base64url')}`
      if (compressAbove === false || jwt.length <= compressAbove) return jwt
      const compressed = COMPRESSED_PREFIX + deflateRawSync(jwt, { level: 9 }).toString('base64url')
      return compressed.length < jwt.length ? compressed : jwt
    },
    exportJwks() {
      if (publicJwk === undefined) return { keys: [] }
      return { keys: [{ ...publicJwk, kid: keyId, alg: algorithm, use: 'sig' }] }
    },
  }
}
