/**
 * DPoP proofs for tests (RFC 9449 section 4.2): a client key with its public JWK and thumbprint,
 * and proofs signed with it, every member overridable or removable.
 */
import {
  constants,
  createHash,
  generateKeyPairSync,
  type KeyObject,
  randomUUID,
  sign,
} from 'node:crypto'

export type ProofAlg = 'ES256' | 'ES384' | 'EdDSA' | 'RS256' | 'PS256'

export interface ProofKey {
  readonly alg: ProofAlg
  readonly privateKey: KeyObject
  /** The public JWK, as a client puts it in the proof header. */
  readonly jwk: Readonly<Record<string, string>>
  /** Its RFC 7638 thumbprint: the `cnf.jkt` of tokens bound to it. */
  readonly jkt: string
}

const MEMBERS: Record<string, string[]> = {
  EC: ['crv', 'kty', 'x', 'y'],
  RSA: ['e', 'kty', 'n'],
  OKP: ['crv', 'kty', 'x'],
}

/** RFC 7638 thumbprint of a public JWK. */
export function thumbprint(jwk: Readonly<Record<string, string>>): string {
  const members = MEMBERS[jwk.kty!]!
  const json = `{${members.map((m) => `"${m}":"${jwk[m]}"`).join(',')}}`
  return createHash('sha256').update(json).digest('base64url')
}

/** A fresh client key for `alg`. */
export function proofKey(alg: ProofAlg = 'ES256'): ProofKey {
  const pair =
    alg === 'ES256'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : alg === 'ES384'
        ? generateKeyPairSync('ec', { namedCurve: 'P-384' })
        : alg === 'EdDSA'
          ? generateKeyPairSync('ed25519')
          : generateKeyPairSync('rsa', { modulusLength: 2048 })
  const jwk = pair.publicKey.export({ format: 'jwk' }) as Record<string, string>
  return { alg, privateKey: pair.privateKey, jwk, jkt: thumbprint(jwk) }
}

/** base64url(SHA-256(token)): a proof's `ath`. */
export function ath(token: string): string {
  return createHash('sha256').update(token).digest('base64url')
}

export interface ProofSpec {
  readonly htm?: string
  readonly htu: string
  /** Seconds. */
  readonly iat: number
  /** The access token the proof goes with (its `ath`). */
  readonly token?: string
  readonly jti?: string
  readonly nonce?: string
  /** Header members to set (or replace). */
  readonly header?: Record<string, unknown>
  /** Claims to set (or replace). */
  readonly claims?: Record<string, unknown>
  /** Header or claim names to leave out. */
  readonly omit?: readonly string[]
  /** Sign with another key than the one in the header. */
  readonly signer?: ProofKey
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')

function signWith(key: ProofKey, input: Buffer): Buffer {
  switch (key.alg) {
    case 'ES256':
      return sign('sha256', input, { key: key.privateKey, dsaEncoding: 'ieee-p1363' })
    case 'ES384':
      return sign('sha384', input, { key: key.privateKey, dsaEncoding: 'ieee-p1363' })
    case 'EdDSA':
      return sign(null, input, key.privateKey)
    case 'RS256':
      return sign('sha256', input, key.privateKey)
    case 'PS256':
      return sign('sha256', input, {
        key: key.privateKey,
        padding: constants.RSA_PKCS1_PSS_PADDING,
        saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
      })
  }
}

function without(value: Record<string, unknown>, omit: readonly string[]) {
  for (const name of omit) delete value[name]
  return value
}

/**
 * A DPoP proof signed by `key`.
 *
 * @example
 * const proof = makeProof(key, { htu: 'http://127.0.0.1:3000/me', iat: NOW, token })
 */
export function makeProof(key: ProofKey, spec: ProofSpec): string {
  const omit = spec.omit ?? []
  const header = without({ typ: 'dpop+jwt', alg: key.alg, jwk: key.jwk, ...spec.header }, omit)
  const claims = without(
    {
      jti: spec.jti ?? randomUUID(),
      htm: spec.htm ?? 'GET',
      htu: spec.htu,
      iat: spec.iat,
      ...(spec.token === undefined ? {} : { ath: ath(spec.token) }),
      ...(spec.nonce === undefined ? {} : { nonce: spec.nonce }),
      ...spec.claims,
    },
    omit,
  )
  const input = `${b64(header)}.${b64(claims)}`
  const signature = signWith(spec.signer ?? key, Buffer.from(input))
  return `${input}.${signature.toString('base64url')}`
}
