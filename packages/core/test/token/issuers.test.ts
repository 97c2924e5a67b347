import { randomBytes } from 'node:crypto'
import { describe, expect, it, vi } from 'vitest'
import { createAuth, createMetrics, type IssuerOptions } from '../../src/index.js'
import {
  AUDIENCE,
  authErrorOf,
  claims,
  ecKeyPair,
  fakeClock,
  handSign,
  INVALID_TOKEN_CHALLENGE,
  NOW_MS,
  rsaKeyPair,
  signJwt,
  summary,
} from '../helpers.js'

const A = 'https://a.example'
const B = 'https://b.example'
const H = 'https://h.example'
const rsaA = rsaKeyPair()
const rsaB = rsaKeyPair()
const ec = ecKeyPair()
const secret = randomBytes(32)

const list: IssuerOptions[] = [
  { issuer: A, publicKey: rsaA.publicPem, algorithms: ['RS256'] },
  { issuer: B, keys: [{ ...rsaB.publicKey.export({ format: 'jwk' }), kid: 'b1', alg: 'RS256' }] },
  { issuer: H, secret, algorithms: ['HS256'], audience: 'h-api' },
]

const base = { audience: AUDIENCE, clock: () => NOW_MS }
const rs256 = (extra: Record<string, unknown>, key = rsaA.privateKey) =>
  handSign({ alg: 'RS256' }, claims(extra), 'RS256', key)
const refusal = async (auth: { verify(token: string): Promise<unknown> }, token: string) =>
  (await authErrorOf(() => auth.verify(token))).message
const tokenOf = (iss: string, key = rsaA.privateKey, header: Record<string, unknown> = {}) =>
  handSign({ alg: 'RS256', ...header }, claims({ iss }), String(header.alg ?? 'RS256'), key)

describe('issuers: a list', () => {
  it("verifies each issuer's tokens with its own keys and rules; claims.iss names it", async () => {
    const auth = createAuth({ ...base, issuers: list })
    expect((await auth.verify(tokenOf(A))).claims.iss).toBe(A)
    const b = handSign({ alg: 'RS256', kid: 'b1' }, claims({ iss: B }), 'RS256', rsaB.privateKey)
    expect((await auth.verify(b)).claims.iss).toBe(B)
    const h = handSign({ alg: 'HS256' }, claims({ iss: H, aud: 'h-api' }), 'HS256', secret)
    expect((await auth.verify(h)).claims.iss).toBe(H)
  })

  it("refuses a token naming one issuer and signed with another's key (iss spoofing)", async () => {
    const auth = createAuth({ ...base, issuers: list })
    for (const token of [
      tokenOf(B, rsaA.privateKey), // A's key, B's name
      handSign({ alg: 'RS256', kid: 'b1' }, claims({ iss: A }), 'RS256', rsaB.privateKey),
    ]) {
      expect(summary(await authErrorOf(() => auth.verify(token)))).toEqual({
        code: 'token_invalid',
        status: 401,
        'www-authenticate': INVALID_TOKEN_CHALLENGE('The token signature is invalid.'),
      })
    }
  })

  it('refuses a kid known only to another issuer', async () => {
    const auth = createAuth({ ...base, issuers: list })
    // A has one unlabelled key: a kid of B's set selects nothing of B's there
    const token = handSign(
      { alg: 'RS256', kid: 'b1' },
      claims({ iss: A }),
      'RS256',
      rsaB.privateKey,
    )
    expect((await authErrorOf(() => auth.verify(token))).code).toBe('token_invalid')
  })

  it("refuses algorithm confusion across issuers: HS256 under an RSA issuer's name, with its public key as the secret", async () => {
    const auth = createAuth({ ...base, issuers: list })
    const confused = handSign({ alg: 'HS256' }, claims({ iss: A }), 'HS256', rsaA.publicPem)
    expect(summary(await authErrorOf(() => auth.verify(confused)))).toEqual({
      code: 'token_invalid',
      status: 401,
      'www-authenticate': INVALID_TOKEN_CHALLENGE('The token algorithm is not allowed.'),
    })
    // and the HMAC issuer's secret never verifies an RS256 header
    expect(await refusal(auth, rs256({ iss: H, aud: 'h-api' }))).toBe(
      'The token algorithm is not allowed.',
    )
  })

  it('applies the claim rules of the issuer: its own audience, the top-level default otherwise', async () => {
    const auth = createAuth({ ...base, issuers: list })
    const wrongAud = handSign({ alg: 'HS256' }, claims({ iss: H }), 'HS256', secret) // aud: orders-api
    expect(await refusal(auth, wrongAud)).toBe('The "aud" claim does not match.')
    expect(await refusal(auth, rs256({ iss: A, aud: 'h-api' }))).toBe(
      'The "aud" claim does not match.',
    )
  })

  it('refuses an unknown issuer, no issuer and an oversized one: 401 token_invalid', async () => {
    const auth = createAuth({ ...base, issuers: list })
    const cases: Array<[string, string]> = [
      [tokenOf('https://unknown.example'), 'The token issuer is not accepted.'],
      [tokenOf(`${A}/`), 'The token issuer is not accepted.'], // exact comparison
      [
        handSign({ alg: 'RS256' }, claims({ iss: undefined }), 'RS256', rsaA.privateKey),
        'The token has no usable iss claim.',
      ],
      [
        handSign({ alg: 'RS256' }, claims({ iss: 42 }), 'RS256', rsaA.privateKey),
        'The token has no usable iss claim.',
      ],
      [tokenOf(`https://${'a'.repeat(2100)}`), 'The token has no usable iss claim.'],
    ]
    for (const [token, message] of cases) {
      expect(summary(await authErrorOf(() => auth.verify(token)))).toEqual({
        code: 'token_invalid',
        status: 401,
        'www-authenticate': INVALID_TOKEN_CHALLENGE(message),
      })
    }
  })

  it("runs the whole strict compact check in the selected issuer's verifier", async () => {
    const auth = createAuth({ ...base, issuers: list })
    // the iss is read from the payload alone; the padded signature is refused by A's verifier
    expect(await refusal(auth, `${tokenOf(A)}=`)).toBe('The token is not canonical base64url.')
  })

  it('keeps the cached path: a second request is a cache hit', async () => {
    const metrics = createMetrics()
    const auth = createAuth({ ...base, issuers: list, metrics })
    const token = tokenOf(A)
    await auth.verify(token)
    await auth.verify(token)
    expect(metrics.snapshot().verificationCache).toMatchObject({ hits: 1, misses: 1 })
  })

  it('verifies synchronously for listed keys (no promise before the handler)', () => {
    const auth = createAuth({ ...base, issuers: list })
    const result = auth.authenticate({ authorization: `Bearer ${tokenOf(A)}` })
    expect(result).not.toBeInstanceOf(Promise)
  })
})

describe('issuers with the instance-wide collaborators', () => {
  it('revokes tokens of any issuer, and still introspects opaque tokens', async () => {
    const introspect = vi.fn(async (token: string) =>
      token === 'opaque-token' ? { sub: 'svc', exp: NOW_MS / 1000 + 60, aud: AUDIENCE } : null,
    )
    const auth = createAuth({ ...base, issuers: list, introspection: { introspect } })
    const b = handSign({ alg: 'RS256', kid: 'b1' }, claims({ iss: B }), 'RS256', rsaB.privateKey)
    await auth.verify(b)
    await auth.revoke({ token: b })
    expect((await authErrorOf(() => auth.verify(b))).code).toBe('token_revoked')
    expect((await auth.verify(tokenOf(A))).claims.iss).toBe(A)
    expect((await auth.verify('opaque-token')).sub).toBe('svc')
    expect(introspect).toHaveBeenCalledTimes(1)
  })
})

describe('issuers: a resolver', () => {
  const tenants = new Map<string, IssuerOptions>([
    [A, { issuer: A, publicKey: rsaA.publicPem, algorithms: ['RS256'] }],
    [B, { issuer: B, publicKey: ec.publicPem }],
  ])

  function setup(resolve = vi.fn(async (iss: string) => tenants.get(iss))) {
    const time = fakeClock()
    const logger = { info: vi.fn(), warn: vi.fn(), error: vi.fn() }
    const metrics = createMetrics()
    const auth = createAuth({
      metrics,
      ...base,
      clock: time.clock,
      issuers: resolve,
      issuerCache: { ttlSeconds: 60, negativeTtlSeconds: 10 },
      logger,
    })
    return { auth, resolve, time, logger, metrics }
  }

  it('resolves an issuer once, then from its cache; concurrent first requests share one call', async () => {
    const { auth, resolve } = setup()
    const tokens = Array.from({ length: 5 }, (_, i) =>
      handSign({ alg: 'RS256' }, claims({ iss: A, jti: `t${i}` }), 'RS256', rsaA.privateKey),
    )
    const results = await Promise.all(tokens.map((t) => auth.verify(t)))
    expect(results.map((r) => r.claims.iss)).toEqual(Array(5).fill(A))
    const es = await signJwt(claims({ iss: B }), ec.privateKey, { alg: 'ES256' })
    expect((await auth.verify(es)).claims.iss).toBe(B)
    expect(resolve.mock.calls).toEqual([[A], [B]])
  })

  it('answers an unknown issuer 401 and remembers it for negativeTtlSeconds', async () => {
    const { auth, resolve, time } = setup()
    const unknown = tokenOf('https://unknown.example')
    for (let i = 0; i < 5; i++) {
      expect((await authErrorOf(() => auth.verify(unknown))).message).toBe(
        'The token issuer is not accepted.',
      )
    }
    expect(resolve).toHaveBeenCalledTimes(1)
    time.advanceSeconds(11)
    await authErrorOf(() => auth.verify(unknown))
    expect(resolve).toHaveBeenCalledTimes(2)
  })

  it('fails closed with 503 when the resolver throws or rejects, and backs off', async () => {
    for (const resolve of [
      vi.fn(() => {
        throw new Error('db down')
      }),
      vi.fn(async () => {
        throw new Error('db down')
      }),
    ]) {
      const { auth, time, metrics } = setup(resolve as never)
      const error = await authErrorOf(() => auth.verify(tokenOf(A)))
      expect(metrics.snapshot().infrastructureErrors.issuers).toBe(1)
      expect({ code: error.code, status: error.status, headers: error.headers }).toEqual({
        code: 'auth_unavailable',
        status: 503,
        headers: { 'retry-after': '1' },
      })
      expect(error.dependency).toBe('issuers')
      await authErrorOf(() => auth.verify(tokenOf(A)))
      expect(resolve).toHaveBeenCalledTimes(1) // within the backoff: not asked again
      time.advanceSeconds(1)
      await authErrorOf(() => auth.verify(tokenOf(A)))
      expect(resolve).toHaveBeenCalledTimes(2)
    }
  })

  it('answers 503 and logs once when the resolver answers an unusable configuration', async () => {
    const bad = vi.fn(async (iss: string) => ({ issuer: iss, publicKey: rsaA.publicPem })) // no algorithms
    const { auth, logger } = setup(bad as never)
    const error = await authErrorOf(() => auth.verify(tokenOf(A)))
    expect(error.code).toBe('auth_unavailable')
    expect(logger.error).toHaveBeenCalledWith(
      {
        event: 'issuer_config_invalid',
        reason:
          "createAuth: issuers() answer.algorithms must be given for RSA keys, secrets and remote key sets, e.g. algorithms: ['RS256'] or ['HS256'].",
      },
      'the issuers resolver answered an unusable configuration',
    )
  })

  it("refuses an answer for another issuer than the token's (503, never that issuer's keys)", async () => {
    const wrong = vi.fn(async () => tenants.get(A))
    const { auth } = setup(wrong as never)
    const token = handSign({ alg: 'RS256' }, claims({ iss: B }), 'RS256', rsaA.privateKey)
    const error = await authErrorOf(() => auth.verify(token))
    expect(error.code).toBe('auth_unavailable')
    expect((error.cause as Error).message).toMatch(
      /issuers\(\) answer\.issuer must equal the `iss`/,
    )
  })

  it("resolves again after ttlSeconds, and a cached verification does not outlive its issuer's answer", async () => {
    const answers = new Map(tenants)
    const { auth, resolve, time } = setup(vi.fn(async (iss: string) => answers.get(iss)))
    const token = tokenOf(A)
    await auth.verify(token)
    answers.delete(A) // the tenant is removed
    time.advanceSeconds(30)
    await auth.verify(token) // cached
    time.advanceSeconds(31)
    expect((await authErrorOf(() => auth.verify(token))).message).toBe(
      'The token issuer is not accepted.',
    )
    expect(resolve).toHaveBeenCalledTimes(2)
  })
})

describe('issuers: a resolver with remote key sets', () => {
  it("keeps an issuer's fetched keys across answers that name the same key set, not across others", async () => {
    const time = fakeClock()
    const fetched: string[] = []
    const fetch = async (url: string | URL | Request) => {
      fetched.push(String(url))
      const jwk = { ...rsaA.publicKey.export({ format: 'jwk' }), kid: 'a1', alg: 'RS256' }
      return new Response(JSON.stringify({ keys: [jwk] }))
    }
    let jwksUri = 'https://a.example/jwks'
    const auth = createAuth({
      ...base,
      clock: time.clock,
      issuerCache: { ttlSeconds: 60 },
      issuers: async (iss) =>
        iss === A ? { issuer: A, jwksUri, algorithms: ['RS256'], jwks: { fetch } } : undefined,
    })
    const token = (jti: string) =>
      handSign({ alg: 'RS256', kid: 'a1' }, claims({ iss: A, jti }), 'RS256', rsaA.privateKey)
    await auth.verify(token('1'))
    time.advanceSeconds(61) // a new answer, the same key set: its keys are kept
    await auth.verify(token('2'))
    expect(fetched).toEqual(['https://a.example/jwks'])
    jwksUri = 'https://a.example/jwks-2'
    time.advanceSeconds(61) // another key set: opened anew
    await auth.verify(token('3'))
    expect(fetched).toEqual(['https://a.example/jwks', 'https://a.example/jwks-2'])
  })
})

describe('issuers: options', () => {
  it('cannot be mixed with the top-level key options or issuer', () => {
    for (const extra of [
      { publicKey: rsaA.publicPem },
      { secret },
      { jwksUri: 'https://a.example/jwks' },
      { algorithms: ['RS256'] },
      { issuer: A },
    ]) {
      const name = Object.keys(extra)[0]
      expect(() => createAuth({ ...base, issuers: list, ...extra } as never)).toThrow(
        `createAuth: ${name} must not be set with \`issuers\`: each issuer has its own keys, algorithms and \`issuer\``,
      )
    }
  })
})
