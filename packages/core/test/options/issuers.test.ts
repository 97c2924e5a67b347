import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { createAuth, type IssuerOptions } from '../../src/index.js'
import { AUDIENCE, authErrorOf, claims, handSign, NOW_MS, rsaKeyPair } from '../helpers.js'

const rsa = rsaKeyPair()
const A = 'https://a.example'
const GOOD: IssuerOptions = { issuer: A, publicKey: rsa.publicPem, algorithms: ['RS256'] }

const messageOf = (fn: () => unknown): string => {
  try {
    fn()
  } catch (error) {
    expect(error).toBeInstanceOf(TypeError)
    return (error as Error).message
  }
  throw new Error('expected a TypeError')
}

describe('issuers: each entry is checked like the top-level options', () => {
  it.each([
    ['no key source', { algorithms: ['RS256'] }],
    [
      'two key sources',
      { publicKey: rsa.publicPem, secret: randomBytes(32), algorithms: ['RS256'] },
    ],
    ['a short secret', { secret: 'short', algorithms: ['HS256'] }],
    ['RSA without algorithms', { publicKey: rsa.publicPem }],
    ['mixed algorithms', { publicKey: rsa.publicPem, algorithms: ['RS256', 'HS256'] }],
    ['an unknown algorithm', { publicKey: rsa.publicPem, algorithms: ['none'] }],
    ['HMAC from a JWKS', { jwksUri: 'https://a.example/jwks', algorithms: ['HS256'] }],
    ['a jwksUri over http', { jwksUri: 'http://a.example/jwks', algorithms: ['RS256'] }],
    [
      'a bad jwks.timeoutMs',
      { jwksUri: 'https://a.example/jwks', algorithms: ['RS256'], jwks: { timeoutMs: -1 } },
    ],
    ['an empty audience', { ...GOOD, audience: [] }],
    ['a negative tolerance', { ...GOOD, clockToleranceSeconds: -1 }],
    ['a bad permissionsClaim', { ...GOOD, permissionsClaim: 'roles' }],
    ['a bad requiredClaims', { ...GOOD, requiredClaims: 'jti' }],
    ['an empty typ', { ...GOOD, typ: '' }],
    ['a misspelt option', { ...GOOD, audiance: AUDIENCE }],
  ])('%s: the top-level message, its name prefixed with issuers[1].', (_name, fragment) => {
    const { issuer: _issuer, ...topLevel } = { issuer: A, ...fragment }
    const top = messageOf(() => createAuth({ audience: AUDIENCE, ...topLevel } as never))
    const nested = messageOf(() =>
      createAuth({
        audience: AUDIENCE,
        issuers: [GOOD, { ...fragment, issuer: 'https://b.example' }],
      } as never),
    )
    expect(nested).toBe(
      top
        .replace('createAuth: ', 'createAuth: issuers[1].')
        .replace('set jwks.allowHttp', 'set issuers[1].jwks.allowHttp'),
    )
  })
})

describe('issuers: the list', () => {
  it.each([
    [
      [],
      'createAuth: issuers must be a non-empty array of issuers or a resolver `(iss) => issuer | undefined`',
    ],
    ['https://a.example', 'createAuth: issuers must be a non-empty array of issuers or a resolver'],
    [[null], 'createAuth: issuers[0] must be an object'],
    [
      [{ publicKey: rsa.publicPem, algorithms: ['RS256'] }],
      "createAuth: issuers[0].issuer must be given: it selects the entry, e.g. 'https://a.example'.",
    ],
    [
      [{ ...GOOD, issuer: '' }],
      "createAuth: issuers[0].issuer must be a non-empty string, e.g. 'https://a.example'.",
    ],
    [
      [{ ...GOOD, issuer: `https://${'a'.repeat(2048)}` }],
      'createAuth: issuers[0].issuer must be at most 2048 characters long',
    ],
    [
      [GOOD, { ...GOOD }],
      "createAuth: issuers[1].issuer must be unique: another entry has the same issuer, e.g. 'https://b.example'.",
    ],
  ])('%j: %s', (issuers, message) => {
    expect(messageOf(() => createAuth({ audience: AUDIENCE, issuers } as never))).toContain(message)
  })

  it('refuses issuerCache without a resolver', () => {
    expect(
      messageOf(() => createAuth({ issuers: [GOOD], issuerCache: { max: 10 } } as never)),
    ).toBe(
      'createAuth: issuerCache must come with an `issuers` resolver (a list needs no cache), e.g. issuers: (iss) => tenants.get(iss).',
    )
  })

  it('checks issuerCache', () => {
    expect(
      messageOf(() =>
        createAuth({ issuers: async () => undefined, issuerCache: { ttlSeconds: 0 } }),
      ),
    ).toBe('createAuth: issuerCache.ttlSeconds must be a positive integer, e.g. 300.')
  })

  it('keeps the top-level audience for an entry whose audience is undefined', async () => {
    const auth = createAuth({
      audience: AUDIENCE,
      clock: () => NOW_MS,
      issuers: [{ ...GOOD, audience: undefined }],
    })
    const token = handSign(
      { alg: 'RS256' },
      claims({ iss: A, aud: 'other' }),
      'RS256',
      rsa.privateKey,
    )
    expect((await authErrorOf(() => auth.verify(token))).message).toBe(
      'The "aud" claim does not match.',
    )
  })

  it('inherits the top-level claim options, and an entry overrides them', () => {
    const auth = createAuth({
      audience: AUDIENCE,
      typ: 'at+jwt',
      issuers: [GOOD, { ...GOOD, issuer: 'https://b.example', audience: 'other' }],
    })
    expect(auth.mode).toBe('required')
  })
})

describe('issuers: how long revocations are kept', () => {
  async function revocationLifetime(options: object): Promise<number> {
    const entries: Array<{ expiresAt: number }> = []
    const revocation = {
      isRevoked: () => false,
      revoke: async (entry: { expiresAt: number }) => {
        entries.push(entry)
      },
    }
    const auth = createAuth({ audience: AUDIENCE, clock: () => 1_000_000, revocation, ...options })
    await auth.revoke({ jti: 'j1' })
    return entries[0]!.expiresAt - 1000
  }

  it('as long as the issuer that accepts tokens longest', async () => {
    const issuers = [
      GOOD,
      {
        ...GOOD,
        issuer: 'https://b.example',
        maxTokenAgeSeconds: 86_400,
        clockToleranceSeconds: 5,
      },
    ]
    expect(await revocationLifetime({ maxTokenAgeSeconds: 3600, issuers })).toBe(86_405)
  })

  it('the default (30 days) when an issuer has no maxTokenAgeSeconds, or with a resolver', async () => {
    const issuers = [GOOD, { ...GOOD, issuer: 'https://b.example', maxTokenAgeSeconds: 60 }]
    expect(await revocationLifetime({ issuers })).toBe(30 * 86_400)
    expect(
      await revocationLifetime({ maxTokenAgeSeconds: 60, issuers: async () => undefined }),
    ).toBe(30 * 86_400)
  })
})
