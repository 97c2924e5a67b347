/**
 * The signature layer is our own (synchronous node:crypto, no WebCrypto round trip); its semantics
 * are jose's. This differential test runs the same tokens through jose's `jwtVerify` and through
 * `createAuth(...).verify` with the same options, and expects the same verdict on each, except where
 * we are deliberately stricter (documented at each case).
 */
import { generateKeyPairSync, type KeyObject, sign } from 'node:crypto'
import { jwtVerify } from 'jose'
import { describe, expect, it } from 'vitest'
import { createAuth } from '../../src/index.js'

const NOW = 1_800_000_000
const ISS = 'https://issuer.example'
const AUD = 'orders-api'
const keys = {
  RS256: generateKeyPairSync('rsa', { modulusLength: 2048 }),
  PS256: generateKeyPairSync('rsa', { modulusLength: 2048 }),
  ES256: generateKeyPairSync('ec', { namedCurve: 'P-256' }),
  EdDSA: generateKeyPairSync('ed25519'),
} as const
type Alg = keyof typeof keys

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url')

function signWith(alg: Alg, key: KeyObject, header: object, claims: object): string {
  const input = `${b64({ alg, ...header })}.${b64(claims)}`
  const data = Buffer.from(input)
  const signature =
    alg === 'EdDSA'
      ? sign(null, data, key)
      : alg === 'ES256'
        ? sign('sha256', data, { key, dsaEncoding: 'ieee-p1363' })
        : alg === 'PS256'
          ? sign('sha256', data, { key, padding: 6, saltLength: 32 })
          : sign('sha256', data, key)
  return `${input}.${signature.toString('base64url')}`
}

const base = { sub: 'user-1', iss: ISS, aud: AUD, iat: NOW - 10, exp: NOW + 600 }
const variants: [name: string, header: object, claims: object][] = [
  ['valid', {}, base],
  ['expired', {}, { ...base, exp: NOW - 1 }],
  ['expires now', {}, { ...base, exp: NOW }],
  ['not yet valid', {}, { ...base, nbf: NOW + 30 }],
  ['nbf now', {}, { ...base, nbf: NOW }],
  ['wrong audience', {}, { ...base, aud: 'other' }],
  ['audience list', {}, { ...base, aud: ['other', AUD] }],
  ['wrong issuer', {}, { ...base, iss: 'https://evil.example' }],
  ['exp not a number', {}, { ...base, exp: String(NOW + 600) }],
  ['kid present', { kid: 'k1' }, base],
  ['typ JWT', { typ: 'JWT' }, base],
]

describe.each(Object.keys(keys) as Alg[])('same verdict as jose jwtVerify: %s', (alg) => {
  const { privateKey, publicKey } = keys[alg]
  const auth = createAuth({
    algorithms: [alg],
    publicKey,
    issuer: ISS,
    audience: AUD,
    clock: () => NOW * 1000,
  })
  const jose = (token: string) =>
    jwtVerify(token, publicKey, {
      algorithms: [alg],
      issuer: ISS,
      audience: AUD,
      currentDate: new Date(NOW * 1000),
      requiredClaims: ['exp'],
    }).then(
      () => true,
      () => false,
    )
  const ours = (token: string) =>
    auth.verify(token).then(
      () => true,
      () => false,
    )

  it.each(variants)('%s', async (_name, header, claims) => {
    const token = signWith(alg, privateKey, header, claims)
    expect(await ours(token)).toBe(await jose(token))
  })

  it('a tampered payload, a wrong key and alg none are refused by both', async () => {
    const token = signWith(alg, privateKey, {}, base)
    const [h, , s] = token.split('.')
    const tampered = `${h}.${b64({ ...base, sub: 'admin' })}.${s}`
    const other =
      alg === 'EdDSA'
        ? generateKeyPairSync('ed25519')
        : alg === 'ES256'
          ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
          : generateKeyPairSync('rsa', { modulusLength: 2048 })
    const wrongKey = signWith(alg, other.privateKey, {}, base)
    const none = `${b64({ alg: 'none' })}.${b64(base)}.`
    for (const t of [tampered, wrongKey, none]) {
      expect(await ours(t)).toBe(false)
      expect(await jose(t)).toBe(false)
    }
  })

  it('stricter than jose, on purpose: crit, b64:false and a non-canonical encoding', async () => {
    // jose understands `b64` in `crit` (RFC 7797); we accept no critical extension at all
    const crit = signWith(alg, privateKey, { crit: ['b64'], b64: true }, base)
    expect(await ours(crit)).toBe(false)
    // jose decodes base64url leniently (here: padding on the signature); the strict check refuses it
    const padded = `${signWith(alg, privateKey, {}, base)}=`
    expect(await ours(padded)).toBe(false)
  })
})
