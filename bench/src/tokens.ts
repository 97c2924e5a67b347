/**
 * Keys and tokens for the benchmark. Keys are generated at run time and never written to disk;
 * tokens are signed with bare `node:crypto` so that no library under test signs its own input.
 */
import {
  constants,
  createHmac,
  createSecretKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
  sign,
} from 'node:crypto'

export const ALGORITHMS = ['RS256', 'ES256', 'EdDSA', 'PS256', 'HS256'] as const
export type Algorithm = (typeof ALGORITHMS)[number]

export const ISSUER = 'https://auth.bench.example/'
export const AUDIENCE = 'bench-api'
/** Tokens live for 6 hours: longer than any run, so no token expires mid-benchmark. */
const TOKEN_LIFETIME_SECONDS = 6 * 3600

/** Everything a verifier needs for one algorithm, in each form the libraries prefer. */
export interface KeyMaterial {
  readonly alg: Algorithm
  /** Public key (asymmetric) or the secret (HS256) as a KeyObject. */
  readonly verifyKey: KeyObject
  /** SPKI PEM of the public key; for HS256 the secret string. */
  readonly verifyPem: string
  /** The private key, or the secret. */
  readonly signKey: KeyObject
  /** HS256 only: the shared secret as a string. */
  readonly secret?: string
}

/** Generates a fresh key (pair) for `alg`. RSA keys are 2048-bit, EC keys P-256. */
export function generateKeyMaterial(alg: Algorithm): KeyMaterial {
  if (alg === 'HS256') {
    const secret = randomBytes(32).toString('base64url')
    const key = createSecretKey(Buffer.from(secret, 'utf8'))
    return { alg, verifyKey: key, verifyPem: secret, signKey: key, secret }
  }
  const pair =
    alg === 'ES256'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : alg === 'EdDSA'
        ? generateKeyPairSync('ed25519')
        : generateKeyPairSync('rsa', { modulusLength: 2048 })
  return {
    alg,
    verifyKey: pair.publicKey,
    verifyPem: pair.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    signKey: pair.privateKey,
  }
}

/** The claims every benchmark token carries; `index` makes each token distinct. */
export function claimsFor(index: number, nowSeconds: number): Record<string, unknown> {
  return {
    sub: `user-${index}`,
    iss: ISSUER,
    aud: AUDIENCE,
    iat: nowSeconds,
    exp: nowSeconds + TOKEN_LIFETIME_SECONDS,
    perms: ['orders:read', 'orders:write', 'profile:read'],
  }
}

const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url')

/** Signs a compact JWS with bare node:crypto. `signKey` is a private KeyObject or HMAC secret. */
export function signToken(
  alg: Algorithm,
  signKey: KeyObject,
  claims: Record<string, unknown>,
): string {
  const input = `${b64({ alg, typ: 'JWT' })}.${b64(claims)}`
  const data = Buffer.from(input)
  const pss = { key: signKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }
  const signature =
    alg === 'HS256'
      ? createHmac('sha256', signKey).update(data).digest()
      : alg === 'PS256'
        ? sign('sha256', data, pss)
        : alg === 'ES256'
          ? sign('sha256', data, { key: signKey, dsaEncoding: 'ieee-p1363' })
          : sign(alg === 'EdDSA' ? null : 'sha256', data, signKey)
  return `${input}.${signature.toString('base64url')}`
}

/** Signs `count` distinct tokens starting at subject index `first`. */
export function signTokens(
  material: KeyMaterial,
  count: number,
  first = 0,
  nowSeconds = Math.floor(Date.now() / 1000),
): string[] {
  const out: string[] = new Array(count)
  for (let i = 0; i < count; i++)
    out[i] = signToken(material.alg, material.signKey, claimsFor(first + i, nowSeconds))
  return out
}
