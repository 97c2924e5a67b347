import { randomBytes } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Algorithm, createAuth } from '../../src/index.js'
import {
  AUDIENCE,
  authErrorOf,
  b64u,
  claims,
  ecKeyPair,
  ed25519KeyPair,
  fakeClock,
  handSign,
  INVALID_TOKEN_CHALLENGE,
  ISSUER,
  rawSignature,
  rsaKeyPair,
  signJwt,
  summary,
} from '../helpers.js'

const rsa = rsaKeyPair()
const attacker = rsaKeyPair()
const { clock } = fakeClock()
const auth = createAuth({
  algorithms: ['RS256'],
  publicKey: rsa.publicPem,
  issuer: ISSUER,
  audience: AUDIENCE,
  cache: false,
  clock,
})

async function rejected(token: string, description: string) {
  const error = await authErrorOf(() => auth.verify(token))
  expect(summary(error)).toEqual({
    code: 'token_invalid',
    status: 401,
    'www-authenticate': INVALID_TOKEN_CHALLENGE(description),
  })
}

describe('the alg header', () => {
  it('accepts the allowlisted algorithm', async () => {
    const ctx = await auth.verify(await signJwt(claims(), rsa.privateKey))
    expect(ctx).toEqual({
      sub: 'user-1',
      claims: claims(),
      permissions: [],
      expiresAt: claims().exp,
    })
  })

  it('rejects alg none, with or without a signature', async () => {
    const unsigned = `${b64u({ alg: 'none' })}.${b64u(claims())}.`
    await rejected(unsigned, 'A segment of the token is empty.')
    const withGarbage = `${b64u({ alg: 'none' })}.${b64u(claims())}.AAAA`
    await rejected(withGarbage, 'The token algorithm is not allowed.')
    for (const alg of ['None', 'NONE', 'nOnE']) {
      await rejected(
        `${b64u({ alg })}.${b64u(claims())}.AAAA`,
        'The token algorithm is not allowed.',
      )
    }
  })

  it('rejects a wrongly cased alg even with a valid RS256 signature', async () => {
    for (const alg of ['rs256', 'Rs256', 'RS256 ', ' RS256']) {
      const header = { alg }
      const token = `${b64u(header)}.${b64u(claims())}`
      const signed = `${token}.${rawSignature('RS256', rsa.privateKey, token).toString('base64url')}`
      await rejected(signed, 'The token algorithm is not allowed.')
    }
  })

  it('rejects a supported algorithm that is not allowlisted', async () => {
    await rejected(
      await signJwt(claims(), rsa.privateKey, { alg: 'RS384' }),
      'The token algorithm is not allowed.',
    )
    await rejected(
      await signJwt(claims(), rsa.privateKey, { alg: 'PS256' }),
      'The token algorithm is not allowed.',
    )
  })

  it.each([[1], [null], [['RS256']], [{}]])('rejects a non-string alg %j', async (alg) => {
    await rejected(
      handSign({ alg }, claims(), 'RS256', rsa.privateKey),
      'The token algorithm is not allowed.',
    )
  })

  it('rejects a header without alg', async () => {
    await rejected(
      handSign({ typ: 'JWT' }, claims(), 'RS256', rsa.privateKey),
      'The token algorithm is not allowed.',
    )
  })

  it('rejects HS256 signed with the PEM of the RSA public key (key confusion)', async () => {
    const secrets = [
      Buffer.from(rsa.publicPem),
      Buffer.from(rsa.publicPem.trim()),
      rsa.publicKey.export({ type: 'spki', format: 'der' }),
    ]
    for (const secret of secrets) {
      const token = handSign({ alg: 'HS256' }, claims(), 'HS256', secret)
      await rejected(token, 'The token algorithm is not allowed.')
      const withKid = handSign({ alg: 'HS256', kid: 'x' }, claims(), 'HS256', secret)
      await rejected(withKid, 'The token algorithm is not allowed.')
    }
  })
})

describe('other header parameters', () => {
  it.each([
    ['crit with a registered name', { alg: 'RS256', crit: ['exp'], exp: 1 }],
    ['an empty crit', { alg: 'RS256', crit: [] }],
    ['crit b64', { alg: 'RS256', crit: ['b64'], b64: true }],
    ['crit of an unknown extension', { alg: 'RS256', crit: ['urn:x'], 'urn:x': 1 }],
    ['crit that is not an array', { alg: 'RS256', crit: 'exp' }],
  ])('rejects %s', async (_name, header) => {
    await rejected(
      handSign(header, claims(), 'RS256', rsa.privateKey),
      'The token has critical header parameters.',
    )
  })

  it('rejects b64: false (unencoded payload)', async () => {
    await rejected(
      handSign({ alg: 'RS256', b64: false }, claims(), 'RS256', rsa.privateKey),
      'Unencoded payloads are not accepted.',
    )
    await rejected(
      handSign({ alg: 'RS256', b64: 'false' }, claims(), 'RS256', rsa.privateKey),
      'Unencoded payloads are not accepted.',
    )
  })

  it.each([[1], [null], [true], [['a']], [{ id: 'a' }]])(
    'rejects a non-string kid %j',
    async (kid) => {
      await rejected(
        handSign({ alg: 'RS256', kid }, claims(), 'RS256', rsa.privateKey),
        'The kid header must be a string.',
      )
    },
  )

  it.each([
    ['an array', '[]'],
    ['null', 'null'],
    ['a string', '"RS256"'],
    ['not JSON', '{alg:RS256}'],
    ['a __proto__ member carrying alg', '{"__proto__":{"alg":"RS256"}}'],
  ])('rejects a header that is %s', async (_name, header) => {
    const error = await authErrorOf(() =>
      auth.verify(handSign(header, claims(), 'RS256', rsa.privateKey)),
    )
    expect(error).toMatchObject({ code: 'token_invalid', status: 401 })
  })

  it('never trusts an embedded jwk: the attacker key that signed the token is ignored', async () => {
    const jwk = attacker.publicKey.export({ format: 'jwk' })
    const token = await signJwt(claims(), attacker.privateKey, { alg: 'RS256', jwk })
    await rejected(token, 'The token signature is invalid.')
    const x5c = handSign({ alg: 'RS256', x5c: ['MIIB'] }, claims(), 'RS256', attacker.privateKey)
    await rejected(x5c, 'The token signature is invalid.')
  })

  describe('jku and x5u', () => {
    let server: Server
    let requests = 0
    let base = ''

    beforeAll(async () => {
      const attackerJwk = {
        ...attacker.publicKey.export({ format: 'jwk' }),
        kid: 'evil',
        use: 'sig',
      }
      server = createServer((_req, res) => {
        requests++
        res.setHeader('content-type', 'application/json')
        res.end(JSON.stringify({ keys: [attackerJwk] }))
      })
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    })

    afterAll(async () => {
      await new Promise((resolve) => server.close(resolve))
    })

    it('are never fetched, and do not make an attacker token valid', async () => {
      const evil = await signJwt(claims(), attacker.privateKey, {
        alg: 'RS256',
        kid: 'evil',
        jku: `${base}/jwks.json`,
        x5u: `${base}/cert.pem`,
      })
      await rejected(evil, 'The token signature is invalid.')
      const honest = await signJwt(claims(), rsa.privateKey, {
        alg: 'RS256',
        jku: `${base}/jwks.json`,
        x5u: `${base}/cert.pem`,
      })
      await expect(auth.verify(honest)).resolves.toMatchObject({ sub: 'user-1' })
      expect(requests).toBe(0)
    })
  })
})

describe('the signature', () => {
  it('rejects a token signed by another key', async () => {
    await rejected(await signJwt(claims(), attacker.privateKey), 'The token signature is invalid.')
  })

  it('rejects a changed payload', async () => {
    const token = await signJwt(claims(), rsa.privateKey)
    const [h, , s] = token.split('.')
    await rejected(`${h}.${b64u(claims({ sub: 'admin' }))}.${s}`, 'The token signature is invalid.')
  })

  it('rejects a truncated or extended signature without throwing anything else', async () => {
    const token = await signJwt(claims(), rsa.privateKey)
    const [h, p, s] = token.split('.') as [string, string, string]
    const bytes = Buffer.from(s, 'base64url')
    for (const sig of [
      bytes.subarray(0, 255),
      Buffer.concat([bytes, Buffer.from([0])]),
      Buffer.alloc(256),
      Buffer.alloc(1),
    ]) {
      await rejected(`${h}.${p}.${sig.toString('base64url')}`, 'The token signature is invalid.')
    }
  })

  it('rejects an ES256 signature in DER instead of the JOSE (r || s) form', async () => {
    const ec = ecKeyPair('P-256')
    const es = createAuth({ publicKey: ec.publicPem, audience: AUDIENCE, clock, cache: false })
    const good = await signJwt(claims(), ec.privateKey, { alg: 'ES256' })
    await expect(es.verify(good)).resolves.toBeDefined()
    const input = good.slice(0, good.lastIndexOf('.'))
    const { sign } = await import('node:crypto')
    const der = sign('sha256', Buffer.from(input), ec.privateKey) // dsaEncoding: 'der'
    const error = await authErrorOf(() => es.verify(`${input}.${der.toString('base64url')}`))
    expect(error.message).toBe('The token signature is invalid.')
  })

  it('rejects an HS256 signature that is a prefix of the right one', async () => {
    const secret = randomBytes(32)
    const hs = createAuth({
      algorithms: ['HS256'],
      secret,
      audience: AUDIENCE,
      clock,
      cache: false,
    })
    const token = await signJwt(claims(), secret, { alg: 'HS256' })
    await expect(hs.verify(token)).resolves.toBeDefined()
    const [h, p, s] = token.split('.') as [string, string, string]
    const short = Buffer.from(s, 'base64url').subarray(0, 16).toString('base64url')
    const error = await authErrorOf(() => hs.verify(`${h}.${p}.${short}`))
    expect(error.message).toBe('The token signature is invalid.')
  })
})

describe('every supported algorithm verifies its own tokens', () => {
  const rsaPair = rsaKeyPair()
  const p256 = ecKeyPair('P-256')
  const p384 = ecKeyPair('P-384')
  const p521 = ecKeyPair('P-521')
  const ed = ed25519KeyPair()
  const secret = randomBytes(64)

  it.each([
    ['RS256', rsaPair],
    ['RS384', rsaPair],
    ['RS512', rsaPair],
    ['PS256', rsaPair],
    ['PS384', rsaPair],
    ['PS512', rsaPair],
    ['ES256', p256],
    ['ES384', p384],
    ['ES512', p521],
    ['EdDSA', ed],
  ] as const)('%s', async (alg, keys) => {
    const verifier = createAuth({
      algorithms: [alg as Algorithm],
      publicKey: keys.publicPem,
      audience: AUDIENCE,
      clock,
      cache: false,
    })
    const token = await signJwt(claims(), keys.privateKey, { alg })
    await expect(verifier.verify(token)).resolves.toMatchObject({ sub: 'user-1' })
    // and a hand-made signature with node:crypto agrees
    const hand = handSign({ alg }, claims({ sub: 'hand' }), alg, keys.privateKey)
    await expect(verifier.verify(hand)).resolves.toMatchObject({ sub: 'hand' })
  })

  it('Ed25519 (the fully-specified name) as well as EdDSA', async () => {
    const verifier = createAuth({
      publicKey: ed.publicPem,
      audience: AUDIENCE,
      clock,
      cache: false,
    })
    const token = handSign({ alg: 'Ed25519' }, claims(), 'Ed25519', ed.privateKey)
    await expect(verifier.verify(token)).resolves.toMatchObject({ sub: 'user-1' })
  })

  it.each(['HS256', 'HS384', 'HS512'] as const)('%s', async (alg) => {
    const verifier = createAuth({
      algorithms: [alg],
      secret,
      audience: AUDIENCE,
      clock,
      cache: false,
    })
    const token = await signJwt(claims(), secret, { alg })
    await expect(verifier.verify(token)).resolves.toMatchObject({ sub: 'user-1' })
    const other = await signJwt(claims(), randomBytes(64), { alg })
    const error = await authErrorOf(() => verifier.verify(other))
    expect(error.message).toBe('The token signature is invalid.')
  })
})

describe('the credential length cap', () => {
  it('rejects a token over maxTokenBytes before any work, and accepts it with a larger cap', async () => {
    const token = await signJwt(claims({ blob: 'x'.repeat(9000) }), rsa.privateKey)
    expect(token.length).toBeGreaterThan(8192)
    await rejected(token, 'The token is longer than 8192 bytes.')
    const roomy = createAuth({
      algorithms: ['RS256'],
      publicKey: rsa.publicPem,
      audience: AUDIENCE,
      clock,
      maxTokenBytes: 16_384,
    })
    await expect(roomy.verify(token)).resolves.toMatchObject({ sub: 'user-1' })
    const tight = createAuth({
      algorithms: ['RS256'],
      publicKey: rsa.publicPem,
      audience: AUDIENCE,
      clock,
      maxTokenBytes: 100,
    })
    const small = await signJwt(claims(), rsa.privateKey)
    const error = await authErrorOf(() => tight.verify(small))
    expect(error.message).toBe('The token is longer than 100 bytes.')
  })

  it('rejects a non-string token as token_invalid', async () => {
    for (const value of [undefined, null, 42, {}]) {
      const error = await authErrorOf(() => auth.verify(value as unknown as string))
      expect(error).toMatchObject({ code: 'token_invalid', status: 401 })
    }
  })
})
