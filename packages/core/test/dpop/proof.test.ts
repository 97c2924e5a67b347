import { createSecretKey, generateKeyPairSync } from 'node:crypto'
import { makeProof, type ProofSpec, proofKey } from '@authframework/test-support/dpop'
import { describe, expect, it } from 'vitest'
import { createDpopNonces } from '../../src/dpop/nonce.js'
import {
  accessTokenHash,
  createProofVerifier,
  jwkThumbprint,
  MAX_PROOF_BYTES,
  type ProofRules,
} from '../../src/dpop/proof.js'
import type { Algorithm } from '../../src/token/algorithms.js'
import { authErrorOf, b64u, NOW_MS, NOW_S } from '../helpers.js'

const HTU = 'https://api.example/orders'
const TOKEN = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyLTEifQ.c2ln'
const RULES: ProofRules = {
  algorithms: new Set<Algorithm>(['ES256', 'ES384', 'EdDSA', 'PS256', 'RS256']),
  maxAgeSeconds: 60,
  toleranceSeconds: 5,
  nonces: undefined,
}
const REQUEST = { method: 'GET', htu: HTU, token: TOKEN, now: NOW_MS }
const key = proofKey('ES256')

const spec = (extra: Partial<ProofSpec> = {}): ProofSpec => ({
  htu: HTU,
  iat: NOW_S,
  token: TOKEN,
  ...extra,
})

async function refusal(proof: string, request = REQUEST, rules = RULES) {
  const error = await authErrorOf(() => createProofVerifier(rules)(proof, request))
  return { code: error.code, status: error.status, detail: error.message }
}

const invalid = (detail: string) => ({ code: 'dpop_proof_invalid', status: 401, detail })

describe('createProofVerifier', () => {
  it('accepts a proof by each default algorithm and gives its key thumbprint, jti and iat', () => {
    for (const alg of ['ES256', 'ES384', 'EdDSA', 'PS256', 'RS256'] as const) {
      const k = proofKey(alg)
      const verified = createProofVerifier(RULES)(makeProof(k, spec({ jti: 'j-1' })), REQUEST)
      expect(verified).toEqual({ jkt: k.jkt, jti: 'j-1', iat: NOW_S })
    }
  })

  it('refuses a proof that is not a strict compact JWS of bounded size', async () => {
    const proof = makeProof(key, spec())
    expect(await refusal(`${proof}=`)).toEqual(invalid('The DPoP proof is not a compact JWS.'))
    expect(await refusal(`${proof}.x`)).toEqual(invalid('The DPoP proof is not a compact JWS.'))
    expect(await refusal(`  ${proof}`)).toEqual(invalid('The DPoP proof is not a compact JWS.'))
    const big = makeProof(key, spec({ claims: { pad: 'x'.repeat(MAX_PROOF_BYTES) } }))
    expect(await refusal(big)).toEqual(invalid('The DPoP proof is longer than 8192 bytes.'))
  })

  it('refuses a typ other than dpop+jwt', async () => {
    for (const typ of ['JWT', 'DPoP+JWT', 'application/dpop+jwt', undefined]) {
      const proof = makeProof(key, spec({ header: { typ }, omit: typ ? [] : ['typ'] }))
      expect(await refusal(proof)).toEqual(invalid('The DPoP proof typ must be dpop+jwt.'))
    }
  })

  it('refuses none, HMAC and algorithms outside the allowlist', async () => {
    for (const alg of ['none', 'HS256', 'ES512', 'RS512']) {
      const proof = makeProof(key, spec({ header: { alg } }))
      expect(await refusal(proof)).toEqual(invalid('The DPoP proof algorithm is not allowed.'))
    }
    const only = { ...RULES, algorithms: new Set<Algorithm>(['EdDSA']) }
    expect((await refusal(makeProof(key, spec()), REQUEST, only)).code).toBe('dpop_proof_invalid')
  })

  it('refuses crit and unencoded payloads', async () => {
    const crit = makeProof(key, spec({ header: { crit: ['exp'] } }))
    expect(await refusal(crit)).toEqual(invalid('The DPoP proof has critical header parameters.'))
    expect((await refusal(makeProof(key, spec({ header: { b64: false } })))).code).toBe(
      'dpop_proof_invalid',
    )
  })

  it('refuses a missing jwk, and any private key member in it', async () => {
    expect(await refusal(makeProof(key, spec({ omit: ['jwk'] })))).toEqual(
      invalid('The DPoP proof has no jwk header with its public key.'),
    )
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    const privateJwk = ec.privateKey.export({ format: 'jwk' })
    expect(await refusal(makeProof(key, spec({ header: { jwk: privateJwk } })))).toEqual(
      invalid('The DPoP proof jwk must be a public key: it carries private key material.'),
    )
    for (const member of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k', 'oth']) {
      const jwk = { ...key.jwk, [member]: 'AQAB' }
      expect((await refusal(makeProof(key, spec({ header: { jwk } })))).detail).toContain(
        'private key material',
      )
    }
    const oct = { kty: 'oct', k: b64u('x'.repeat(32)) }
    expect((await refusal(makeProof(key, spec({ header: { jwk: oct } })))).code).toBe(
      'dpop_proof_invalid',
    )
  })

  it('refuses a jwk whose type does not fit alg, a weak RSA key and a key off its curve', async () => {
    const rsa = proofKey('RS256')
    // an EC key announced as RS256, an RSA key announced as ES256
    expect(await refusal(makeProof(key, spec({ header: { alg: 'RS256' } })))).toEqual(
      invalid('The DPoP proof alg does not fit its jwk.'),
    )
    expect(await refusal(makeProof(rsa, spec({ header: { alg: 'ES256' } })))).toEqual(
      invalid('The DPoP proof alg does not fit its jwk.'),
    )
    const weak = generateKeyPairSync('rsa', { modulusLength: 1024 })
    const weakJwk = weak.publicKey.export({ format: 'jwk' })
    expect(await refusal(makeProof(rsa, spec({ header: { jwk: weakJwk } })))).toEqual(
      invalid('The DPoP proof jwk is not an acceptable public key.'),
    )
    const offCurve = { ...key.jwk, y: key.jwk.x }
    expect((await refusal(makeProof(key, spec({ header: { jwk: offCurve } })))).code).toBe(
      'dpop_proof_invalid',
    )
  })

  it('refuses a signature by another key than the jwk', async () => {
    const proof = makeProof(key, spec({ signer: proofKey('ES256') }))
    expect(await refusal(proof)).toEqual(invalid('The DPoP proof signature is invalid.'))
  })

  it('refuses a proof for another method or URI', async () => {
    expect(await refusal(makeProof(key, spec({ htm: 'POST' })))).toEqual(
      invalid('The DPoP proof is for another HTTP method.'),
    )
    expect(await refusal(makeProof(key, spec({ htm: 'get' })))).toEqual(
      invalid('The DPoP proof is for another HTTP method.'),
    )
    for (const htu of [
      'https://api.example/orders/1',
      'https://other.example/orders',
      'http://api.example/orders',
      'https://api.example:8443/orders',
      '/orders',
    ]) {
      expect(await refusal(makeProof(key, spec({ htu })))).toEqual(
        invalid('The DPoP proof is for another URI.'),
      )
    }
    expect(await refusal(makeProof(key, spec()), { ...REQUEST, htu: undefined as never })).toEqual(
      invalid('The URI of the request cannot be determined.'),
    )
  })

  it('compares htu without query and fragment, after normalization', () => {
    const verify = createProofVerifier(RULES)
    for (const htu of [
      'https://api.example/orders?page=2',
      'https://api.example/orders#top',
      'HTTPS://API.EXAMPLE/orders',
      'https://api.example:443/orders',
      'https://api.example/%6Frders',
      'https://api.example/a/../orders',
    ]) {
      expect(verify(makeProof(key, spec({ htu })), REQUEST).jkt).toBe(key.jkt)
    }
  })

  it('refuses an iat too old or in the future, within the tolerance', async () => {
    const verify = createProofVerifier(RULES)
    expect(verify(makeProof(key, spec({ iat: NOW_S - 65 })), REQUEST).iat).toBe(NOW_S - 65)
    expect(verify(makeProof(key, spec({ iat: NOW_S + 5 })), REQUEST).iat).toBe(NOW_S + 5)
    expect(await refusal(makeProof(key, spec({ iat: NOW_S - 66 })))).toEqual(
      invalid('The DPoP proof is too old.'),
    )
    expect(await refusal(makeProof(key, spec({ iat: NOW_S + 6 })))).toEqual(
      invalid('The DPoP proof is issued in the future.'),
    )
  })

  it('refuses a proof without jti, htm, htu or iat, or with a jti out of bounds', async () => {
    const missing = {
      jti: 'The DPoP proof jti must be a string of 1 to 256 characters.',
      htm: 'The DPoP proof has no htm claim.',
      htu: 'The DPoP proof has no htu claim.',
      iat: 'The DPoP proof has no iat claim.',
    }
    for (const [claim, detail] of Object.entries(missing)) {
      expect(await refusal(makeProof(key, spec({ omit: [claim] })))).toEqual(invalid(detail))
    }
    for (const jti of ['', 'x'.repeat(257), 7]) {
      expect((await refusal(makeProof(key, spec({ claims: { jti } })))).detail).toBe(missing.jti)
    }
    expect((await refusal(makeProof(key, spec({ claims: { iat: String(NOW_S) } })))).detail).toBe(
      missing.iat,
    )
  })

  it('refuses a missing ath, or the ath of another token', async () => {
    expect(await refusal(makeProof(key, spec({ token: undefined })))).toEqual(
      invalid('The DPoP proof has no ath claim.'),
    )
    expect(await refusal(makeProof(key, spec({ token: `${TOKEN}x` })))).toEqual(
      invalid('The DPoP proof is for another access token.'),
    )
    expect(accessTokenHash(TOKEN)).toBe(
      Buffer.from(require('node:crypto').createHash('sha256').update(TOKEN).digest()).toString(
        'base64url',
      ),
    )
  })

  it('with nonces, asks for the current nonce (use_dpop_nonce) and accepts it', async () => {
    const nonces = createDpopNonces(createSecretKey(Buffer.alloc(32, 7)), 300, () => NOW_MS)
    const rules = { ...RULES, nonces }
    const missing = await authErrorOf(() =>
      createProofVerifier(rules)(makeProof(key, spec()), REQUEST),
    )
    expect(missing.code).toBe('dpop_nonce_required')
    expect(missing.headers['dpop-nonce']).toBe(nonces.current())
    const stale = await authErrorOf(() =>
      createProofVerifier(rules)(makeProof(key, spec({ nonce: 'stale' })), REQUEST),
    )
    expect([stale.code, stale.message]).toEqual([
      'dpop_nonce_required',
      'The DPoP proof nonce is not current.',
    ])
    const ok = createProofVerifier(rules)(
      makeProof(key, spec({ nonce: nonces.current() })),
      REQUEST,
    )
    expect(ok.jkt).toBe(key.jkt)
  })

  it('remembers a verified header: the next proof of the client costs a signature check only', () => {
    const verify = createProofVerifier(RULES)
    verify(makeProof(key, spec()), REQUEST)
    // a forged proof reusing the remembered header still needs a valid signature
    const forged = makeProof(key, spec({ signer: proofKey('ES256') }))
    expect(() => verify(forged, REQUEST)).toThrow('The DPoP proof signature is invalid.')
    expect(verify(makeProof(key, spec()), REQUEST).jkt).toBe(key.jkt)
  })
})

describe('jwkThumbprint', () => {
  it('is the RFC 7638 example thumbprint', () => {
    const jwk = {
      kty: 'RSA',
      n: '0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw',
      e: 'AQAB',
      alg: 'RS256',
      kid: '2011-04-29',
    }
    expect(jwkThumbprint(jwk)).toBe('NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs')
    expect(jwkThumbprint({ kty: 'EC', crv: 'P-256', x: 'a' })).toBeUndefined()
    expect(jwkThumbprint({ kty: 'oct', k: 'a' })).toBeUndefined()
  })
})
