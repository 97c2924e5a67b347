import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { type AuthOptions, createAuth, type RemoteKeySetOptions } from '../../src/index.js'
import {
  AUDIENCE,
  authErrorOf,
  claims,
  fakeClock,
  handSign,
  type KeyPair,
  rsaKeyPair,
  signJwt,
} from '../helpers.js'

type Handler = (req: IncomingMessage, res: ServerResponse) => void

const k1 = rsaKeyPair()
const k2 = rsaKeyPair()

function jwk(pair: KeyPair, kid: string, extra: Record<string, unknown> = {}) {
  return { ...pair.publicKey.export({ format: 'jwk' }), kid, use: 'sig', alg: 'RS256', ...extra }
}

function json(body: unknown, delayMs = 0): Handler {
  return (_req, res) => {
    const send = () => {
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify(body))
    }
    if (delayMs > 0) setTimeout(send, delayMs)
    else send()
  }
}

let server: Server
let base = ''
let handler: Handler
let hits: string[] = []

beforeAll(async () => {
  server = createServer((req, res) => {
    hits.push(req.url ?? '')
    handler(req, res)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})

afterAll(async () => {
  server.closeAllConnections()
  await new Promise((resolve) => server.close(resolve))
})

beforeEach(() => {
  hits = []
  handler = json({ keys: [jwk(k1, 'k1')] })
})

function setup(jwks: Partial<RemoteKeySetOptions> = {}, extra: Partial<AuthOptions> = {}) {
  const time = fakeClock()
  const auth = createAuth({
    jwksUri: `${base}/jwks.json`,
    algorithms: ['RS256'],
    audience: AUDIENCE,
    cache: false,
    clock: time.clock,
    jwks: { cooldownMs: 1_000, failureBackoffMs: 1_000, ...jwks },
    ...extra,
  } as AuthOptions)
  return { auth, time }
}

function token(pair: KeyPair, kid: string | undefined, sub = 'user-1') {
  return signJwt(
    claims({ sub }),
    pair.privateKey,
    kid === undefined ? { alg: 'RS256' } : { alg: 'RS256', kid },
  )
}

async function unavailable(promise: () => Promise<unknown>) {
  const error = await authErrorOf(promise)
  expect({ code: error.code, status: error.status, headers: error.headers }).toEqual({
    code: 'auth_unavailable',
    status: 503,
    headers: { 'retry-after': '1' },
  })
  expect(error.message).toBe('The signing keys could not be fetched.')
  return error
}

describe('fetching', () => {
  it('fetches once and shares the fetch between concurrent callers', async () => {
    handler = json({ keys: [jwk(k1, 'k1')] }, 50)
    const { auth } = setup()
    const t = await token(k1, 'k1')
    const results = await Promise.all(Array.from({ length: 20 }, () => auth.verify(t)))
    expect(results.every((ctx) => ctx.sub === 'user-1')).toBe(true)
    expect(hits).toEqual(['/jwks.json'])
    await auth.verify(await token(k1, 'k1', 'other'))
    expect(hits).toHaveLength(1)
  })

  it('verifies a token without kid when one key fits, and refuses to guess among several', async () => {
    const { auth } = setup()
    await expect(auth.verify(await token(k1, undefined))).resolves.toMatchObject({ sub: 'user-1' })
    handler = json({ keys: [jwk(k1, 'k1'), jwk(k2, 'k2')] })
    const two = setup().auth
    const error = await authErrorOf(async () => two.verify(await token(k1, undefined)))
    expect(error).toMatchObject({ code: 'token_invalid', status: 401 })
  })

  it('rejects a token signed by a key that is not in the set', async () => {
    const { auth } = setup()
    const error = await authErrorOf(async () => auth.verify(await token(k2, 'k1')))
    expect(error).toMatchObject({
      code: 'token_invalid',
      message: 'The token signature is invalid.',
    })
  })
})

describe('unknown kid', () => {
  it('refetches once, then the cooldown prevents more fetches', async () => {
    const { auth, time } = setup({ cooldownMs: 1_000 })
    await auth.verify(await token(k1, 'k1'))
    expect(hits).toHaveLength(1)

    // right after a fetch: inside the cooldown, no refetch
    const unknown = await token(k2, 'k2')
    let error = await authErrorOf(() => auth.verify(unknown))
    expect(error).toMatchObject({
      code: 'token_invalid',
      message: 'No signing key matches the token.',
    })
    expect(hits).toHaveLength(1)

    // after the cooldown: one refetch, shared by concurrent callers
    time.advanceSeconds(1)
    const errors = await Promise.all(
      Array.from({ length: 5 }, () => authErrorOf(() => auth.verify(unknown))),
    )
    expect(errors.map((e) => e.code)).toEqual(Array(5).fill('token_invalid'))
    expect(hits).toHaveLength(2)

    // and then the cooldown again, whatever kid is tried
    for (const kid of ['k2', 'k3', 'k4']) {
      error = await authErrorOf(async () => auth.verify(await token(k2, kid)))
      expect(error.code).toBe('token_invalid')
    }
    expect(hits).toHaveLength(2)
    // known keys keep working without a fetch
    await expect(auth.verify(await token(k1, 'k1'))).resolves.toBeDefined()
    expect(hits).toHaveLength(2)
  })

  it('picks up a rotated key after the cooldown', async () => {
    const { auth, time } = setup({ cooldownMs: 1_000 })
    await auth.verify(await token(k1, 'k1'))
    handler = json({ keys: [jwk(k1, 'k1'), jwk(k2, 'k2')] })
    const rotated = await token(k2, 'k2')
    expect((await authErrorOf(() => auth.verify(rotated))).code).toBe('token_invalid')
    time.advanceSeconds(1)
    await expect(auth.verify(rotated)).resolves.toMatchObject({ sub: 'user-1' })
    expect(hits).toHaveLength(2)
  })

  it('drops cached verifications when a refetch finds the set changed (a key withdrawn)', async () => {
    const { auth, time } = setup({ cacheMaxAgeMs: 5_000 }, { cache: { maxTtlSeconds: 300 } })
    handler = json({ keys: [jwk(k1, 'k1'), jwk(k2, 'k2')] })
    const withdrawn = await token(k2, 'k2')
    const kept = await token(k1, 'k1')
    await auth.verify(withdrawn)
    await auth.verify(kept)
    // a new token makes the instance refetch the aged set: the same set, the cache stays
    time.advanceSeconds(5)
    await auth.verify(await token(k1, 'k1', 'user-2'))
    expect(hits).toHaveLength(2)
    await expect(auth.verify(withdrawn)).resolves.toMatchObject({ sub: 'user-1' })
    // k2 is withdrawn (compromised): the next refetch must not leave its tokens cached
    handler = json({ keys: [jwk(k1, 'k1')] })
    time.advanceSeconds(5)
    await auth.verify(await token(k1, 'k1', 'user-3'))
    expect(hits).toHaveLength(3)
    await expect(auth.verify(kept)).resolves.toMatchObject({ sub: 'user-1' })
    expect((await authErrorOf(() => auth.verify(withdrawn))).code).toBe('token_invalid')
  })

  it('refetches keys older than cacheMaxAgeMs', async () => {
    const { auth, time } = setup({ cacheMaxAgeMs: 5_000 })
    const t = await token(k1, 'k1')
    await auth.verify(t)
    time.advanceSeconds(4)
    await auth.verify(t)
    expect(hits).toHaveLength(1)
    time.advanceSeconds(1)
    await auth.verify(t)
    expect(hits).toHaveLength(2)
  })
})

describe('a failing endpoint', () => {
  const cases: [string, Handler][] = [
    [
      '500',
      (_req, res) => {
        res.statusCode = 500
        res.end('oops')
      },
    ],
    [
      '404',
      (_req, res) => {
        res.statusCode = 404
        res.end()
      },
    ],
    [
      'invalid JSON',
      (_req, res) => {
        res.setHeader('content-type', 'application/json')
        res.end('{"keys": [')
      },
    ],
    ['a document without keys', json({ jwks: [] })],
    ['a JSON array', json([jwk(k1, 'k1')])],
    [
      'a declared body over maxBytes',
      (_req, res) => {
        const body = JSON.stringify({ keys: [jwk(k1, 'k1')], pad: 'x'.repeat(5_000) })
        res.setHeader('content-length', Buffer.byteLength(body))
        res.end(body)
      },
    ],
    [
      'a chunked body over maxBytes',
      (_req, res) => {
        res.write(`{"keys":[${JSON.stringify(jwk(k1, 'k1'))}],"pad":"`)
        for (let i = 0; i < 10; i++) res.write('x'.repeat(1_000))
        res.end('"}')
      },
    ],
  ]

  it.each(cases)('%s gives auth_unavailable (503)', async (_name, failing) => {
    handler = failing
    const { auth } = setup({ maxBytes: 4_096 })
    const error = await unavailable(async () => auth.verify(await token(k1, 'k1')))
    expect(error.cause).toBeDefined()
    expect(hits).toHaveLength(1)
  })

  it('a timeout gives auth_unavailable (503)', async () => {
    const pending: ServerResponse[] = []
    handler = (_req, res) => {
      pending.push(res) // never answered
    }
    const { auth } = setup({ timeoutMs: 100 })
    const started = performance.now()
    await unavailable(async () => auth.verify(await token(k1, 'k1')))
    expect(performance.now() - started).toBeLessThan(5_000)
    for (const res of pending) res.destroy()
  })

  it('does not follow redirects, even to a good key set', async () => {
    handler = (req, res) => {
      if (req.url === '/moved') {
        res.statusCode = 302
        res.setHeader('location', `${base}/jwks.json`)
        res.end()
      } else json({ keys: [jwk(k1, 'k1')] })(req, res)
    }
    const { auth } = setup({}, { jwksUri: `${base}/moved` })
    await unavailable(async () => auth.verify(await token(k1, 'k1')))
    expect(hits).toEqual(['/moved'])
  })

  it('is retried at most once per failureBackoffMs, and recovers', async () => {
    handler = (_req, res) => {
      res.statusCode = 503
      res.end()
    }
    const { auth, time } = setup({ failureBackoffMs: 2_000 })
    const t = await token(k1, 'k1')
    await unavailable(() => auth.verify(t))
    expect(hits).toHaveLength(1)
    // a burst of requests inside the backoff: no fetch at all
    for (let i = 0; i < 10; i++) await unavailable(() => auth.verify(t))
    time.advanceSeconds(1.999)
    await unavailable(() => auth.verify(t))
    expect(hits).toHaveLength(1)
    // after the backoff: one more try
    time.advanceSeconds(0.001)
    await unavailable(() => auth.verify(t))
    expect(hits).toHaveLength(2)
    // the endpoint recovers; after the backoff verification works again
    handler = json({ keys: [jwk(k1, 'k1')] })
    await unavailable(() => auth.verify(t))
    expect(hits).toHaveLength(2)
    time.advanceSeconds(2)
    await expect(auth.verify(t)).resolves.toMatchObject({ sub: 'user-1' })
    expect(hits).toHaveLength(3)
  })

  it('keeps the keys it has when a refetch for an unknown kid fails', async () => {
    const { auth, time } = setup()
    const known = await token(k1, 'k1')
    await auth.verify(known)
    handler = (_req, res) => {
      res.statusCode = 500
      res.end()
    }
    time.advanceSeconds(1)
    await unavailable(async () => auth.verify(await token(k2, 'k2')))
    await expect(auth.verify(known)).resolves.toBeDefined()
    expect(hits).toHaveLength(2)
  })
})

describe('key selection from the set', () => {
  it.each([
    ['use: enc', { use: 'enc' }],
    ['key_ops without verify', { key_ops: ['encrypt', 'wrapKey'] }],
    ['an alg that is not allowed', { alg: 'PS256' }],
  ])('ignores a key with %s', async (_name, extra) => {
    handler = json({ keys: [jwk(k1, 'k1', extra)] })
    const { auth } = setup()
    const error = await authErrorOf(async () => auth.verify(await token(k1, 'k1')))
    expect(error).toMatchObject({ code: 'token_invalid', status: 401 })
  })

  it('uses a key with key_ops [verify] and skips the unusable ones beside it', async () => {
    const weak = rsaKeyPair(1024)
    handler = json({
      keys: [
        jwk(k2, 'enc', { use: 'enc' }),
        jwk(weak, 'weak'),
        { kty: 'RSA', kid: 'broken', n: 'AAAA', e: 'AQAB' },
        'not a key',
        null,
        jwk(k1, 'k1', { use: undefined, key_ops: ['verify'] }),
      ],
    })
    const { auth } = setup()
    await expect(auth.verify(await token(k1, 'k1'))).resolves.toMatchObject({ sub: 'user-1' })
    // jose will not sign with a 1024-bit key; node:crypto will
    const weakToken = handSign({ alg: 'RS256', kid: 'weak' }, claims(), 'RS256', weak.privateKey)
    const error = await authErrorOf(() => auth.verify(weakToken))
    expect(error.code).toBe('token_invalid')
  })
})

describe('configuration', () => {
  it.each([
    'http://issuer.example/jwks.json',
    'http://10.0.0.1/jwks.json',
    'http://127.0.0.1.example/jwks.json',
    'ftp://127.0.0.1/jwks.json',
    'file:///etc/jwks.json',
    'not a url',
  ])('refuses %s', (jwksUri) => {
    expect(() => createAuth({ jwksUri, algorithms: ['RS256'], audience: AUDIENCE })).toThrow(
      TypeError,
    )
    expect(() => createAuth({ jwksUri, algorithms: ['RS256'], audience: AUDIENCE })).toThrow(
      /^createAuth: jwksUri must be (a valid URL|an https: URL).*, e\.g\. 'https:\/\/issuer\.example\/\.well-known\/jwks\.json'\.$/,
    )
  })

  it.each(['https://issuer.example/jwks.json', 'http://localhost:1/jwks', 'http://[::1]:1/jwks'])(
    'accepts %s',
    (jwksUri) => {
      expect(() => createAuth({ jwksUri, algorithms: ['RS256'], audience: AUDIENCE })).not.toThrow()
    },
  )

  it('allows http: elsewhere only with allowHttp', () => {
    expect(() =>
      createAuth({
        jwksUri: 'http://issuer.example/jwks.json',
        jwks: { allowHttp: true },
        algorithms: ['RS256'],
        audience: AUDIENCE,
      }),
    ).not.toThrow()
  })

  it.each(['timeoutMs', 'cooldownMs', 'failureBackoffMs', 'maxBytes', 'cacheMaxAgeMs', 'maxKeys'])(
    'refuses jwks.%s of 0',
    (name) => {
      expect(() =>
        createAuth({
          jwksUri: 'https://issuer.example/jwks.json',
          jwks: { [name]: 0 },
          algorithms: ['RS256'],
          audience: AUDIENCE,
        }),
      ).toThrow(new RegExp(`jwks.${name}`))
    },
  )

  it('needs algorithms, and only asymmetric ones', () => {
    expect(() =>
      createAuth({ jwksUri: 'https://issuer.example/jwks.json', audience: AUDIENCE }),
    ).toThrow(/algorithms/)
    expect(() =>
      createAuth({
        jwksUri: 'https://issuer.example/jwks.json',
        algorithms: ['HS256'],
        audience: AUDIENCE,
      }),
    ).toThrow(TypeError)
  })

  it('does not fetch at construction', () => {
    setup()
    expect(hits).toHaveLength(0)
  })
})
