import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import {
  activeAnswer,
  type Behaviour,
  type IntrospectionCall,
  startIntrospectionServer,
} from '@authframework/test-support/introspection-server'
import { afterEach, describe, expect, it } from 'vitest'
import { AuthUnavailableError } from '../../src/errors.js'
import {
  createIntrospector,
  type Introspector,
  type IntrospectorOptions,
} from '../../src/introspection/index.js'

const NOW = 1_800_000_000

const cleanup: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn()
})

async function setup(
  answer: (call: IntrospectionCall) => Behaviour,
  options: Partial<IntrospectorOptions> = {},
) {
  const server = await startIntrospectionServer(answer)
  const time = { ms: NOW * 1000 }
  const introspector = createIntrospector({
    endpoint: server.url,
    clientId: 'orders-api',
    clientSecret: 's3cret:with/odd chars',
    clock: () => time.ms,
    ...options,
  })
  cleanup.push(
    () => server.close(),
    () => introspector.close(),
  )
  return { server, introspector, time }
}

function expectUnavailable(promise: Promise<unknown>, reason?: string) {
  return expect(promise).rejects.toSatisfy((error: unknown) => {
    expect(error).toBeInstanceOf(AuthUnavailableError)
    expect(error).toMatchObject({
      code: 'auth_unavailable',
      status: 503,
      dependency: 'introspection',
    })
    if (reason !== undefined) expect((error as Error).cause).toMatchObject({ reason })
    return true
  })
}

describe('the request', () => {
  it('POSTs the token form with token_type_hint and client_secret_basic over a kept-alive connection', async () => {
    const { server, introspector } = await setup(() => ({ json: activeAnswer(NOW, 60) }))
    const claims = await introspector.introspect('opaque-1')
    expect(claims).toMatchObject({ sub: 'svc-1', exp: NOW + 60, scope: 'orders:read' })
    expect(claims).not.toHaveProperty('active')
    expect(Object.isFrozen(claims)).toBe(true)
    const [call] = server.calls
    expect(call!.contentType).toBe('application/x-www-form-urlencoded')
    expect(call!.form.get('token')).toBe('opaque-1')
    expect(call!.form.get('token_type_hint')).toBe('access_token')
    expect(call!.form.has('client_secret')).toBe(false)
    // RFC 6749 2.3.1: id and secret form-urlencoded before base64
    const decoded = Buffer.from(call!.authorization!.slice('Basic '.length), 'base64').toString()
    expect(decoded).toBe('orders-api:s3cret%3Awith%2Fodd+chars')
    for (let i = 2; i <= 20; i++) await introspector.introspect(`opaque-${i}`)
    expect(server.calls).toHaveLength(20)
    // keep-alive: sequential calls reuse the pool's connections (undici may open a second one
    // while the first is still finishing a response)
    expect(server.connections).toBeLessThanOrEqual(2)
  })

  it('supports client_secret_post, custom client authentication and no hint', async () => {
    const post = await setup(() => ({ json: activeAnswer(NOW, 60) }), {
      clientAuthMethod: 'client_secret_post',
    })
    await post.introspector.introspect('t')
    expect(post.server.calls[0]!.authorization).toBeUndefined()
    expect(post.server.calls[0]!.form.get('client_id')).toBe('orders-api')
    expect(post.server.calls[0]!.form.get('client_secret')).toBe('s3cret:with/odd chars')

    const custom = await setup(() => ({ json: activeAnswer(NOW, 60) }), {
      clientId: undefined,
      clientSecret: undefined,
      clientAuth: async () => ({
        headers: { authorization: 'Bearer api-credential' },
        params: { client_id: 'orders-api' },
      }),
      tokenTypeHint: false,
    })
    await custom.introspector.introspect('t')
    expect(custom.server.calls[0]!.authorization).toBe('Bearer api-credential')
    expect(custom.server.calls[0]!.form.has('token_type_hint')).toBe(false)
  })
})

describe('answers', () => {
  it('active:false is null and is not cached', async () => {
    const { server, introspector } = await setup(() => ({ json: { active: false } }))
    expect(await introspector.introspect('gone')).toBeNull()
    expect(await introspector.introspect('gone')).toBeNull()
    expect(server.calls).toHaveLength(2)
  })

  it('refresh tokens, DPoP tokens without cnf.jkt and token_use other than access are not access tokens', async () => {
    const answers = [
      { token_type: 'refresh_token' },
      { token_type: 'DPoP' },
      { token_type: 'DPoP', cnf: { 'x5t#S256': 'abc' } },
      { token_use: 'refresh_token' },
    ]
    for (const extra of answers) {
      const { introspector } = await setup(() => ({ json: activeAnswer(NOW, 60, extra) }))
      expect(await introspector.introspect('t')).toBeNull()
    }
    const bearer = await setup(() => ({ json: activeAnswer(NOW, 60, { token_type: 'Bearer' }) }))
    expect(await bearer.introspector.introspect('t')).toMatchObject({ token_type: 'Bearer' })
  })

  it('passes a cnf through, for the binding to be checked against each request', async () => {
    const bound = { token_type: 'DPoP', cnf: { jkt: 'abc' } }
    const { introspector } = await setup(() => ({ json: activeAnswer(NOW, 60, bound) }))
    expect(await introspector.introspect('t')).toMatchObject(bound)
  })

  it('keeps a cnf binding, for the request to be checked against (RFC 8705 section 3.2)', async () => {
    const cnf = { 'x5t#S256': 'bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2' }
    const { introspector } = await setup(() => ({ json: activeAnswer(NOW, 60, { cnf }) }))
    expect(await introspector.introspect('t')).toMatchObject({ cnf })
  })

  it('never keeps the token: a jti equal to the token is dropped', async () => {
    const { introspector } = await setup((call) => ({
      json: activeAnswer(NOW, 60, { jti: call.token }),
    }))
    const claims = await introspector.introspect('opaque-secret-value')
    expect(claims).not.toHaveProperty('jti')
    expect(JSON.stringify(claims)).not.toContain('opaque-secret-value')
  })

  it('clientIdAsSubject gives a client-credentials answer its client as subject', async () => {
    const answer = { active: true, client_id: 'billing-svc', exp: NOW + 60 }
    const off = await setup(() => ({ json: answer }))
    expect(await off.introspector.introspect('t')).not.toHaveProperty('sub')
    const on = await setup(() => ({ json: answer }), { clientIdAsSubject: true })
    expect(await on.introspector.introspect('t')).toMatchObject({ sub: 'billing-svc' })
    const withSub = await setup(() => ({ json: { ...answer, sub: 'user-1' } }), {
      clientIdAsSubject: true,
    })
    expect(await withSub.introspector.introspect('t')).toMatchObject({ sub: 'user-1' })
  })
})

describe('the memory cache', () => {
  it('serves an active answer until min(maxTtlSeconds, exp − now), then asks again', async () => {
    const { server, introspector, time } = await setup(() => ({ json: activeAnswer(NOW, 60) }), {
      cache: { maxTtlSeconds: 300 },
    })
    await introspector.introspect('a')
    time.ms += 59_999
    await introspector.introspect('a')
    expect(server.calls).toHaveLength(1)
    expect(introspector.stats.memoryHits).toBe(1)
    time.ms += 1 // exp reached
    server.answer(() => ({ json: activeAnswer(NOW + 60, 600) }))
    await introspector.introspect('a')
    expect(server.calls).toHaveLength(2)
    // now the configured maximum (300 s) is the shorter one
    time.ms += 299_999
    await introspector.introspect('a')
    expect(server.calls).toHaveLength(2)
    time.ms += 1
    await introspector.introspect('a')
    expect(server.calls).toHaveLength(3)
  })

  it('does not cache an answer without a usable exp window, nor with cache: false', async () => {
    const expired = await setup(() => ({ json: activeAnswer(NOW, -1) }))
    await expired.introspector.introspect('a')
    await expired.introspector.introspect('a')
    expect(expired.server.calls).toHaveLength(2)
    const off = await setup(() => ({ json: activeAnswer(NOW, 60) }), { cache: false })
    await off.introspector.introspect('a')
    await off.introspector.introspect('a')
    expect(off.server.calls).toHaveLength(2)
  })

  it('caps the entry count (LRU)', async () => {
    const { server, introspector } = await setup(() => ({ json: activeAnswer(NOW, 60) }), {
      cache: { memory: { max: 2 } },
    })
    for (const t of ['a', 'b', 'c', 'a']) await introspector.introspect(t)
    expect(server.calls.map((c) => c.token)).toEqual(['a', 'b', 'c', 'a'])
  })

  it('evict removes the answer; the next request asks the server again', async () => {
    const { server, introspector } = await setup(() => ({ json: activeAnswer(NOW, 60) }))
    await introspector.introspect('a')
    await introspector.evict('a')
    await introspector.introspect('a')
    expect(server.calls).toHaveLength(2)
  })

  it('evict during a call in flight keeps its answer out of the cache', async () => {
    const { server, introspector } = await setup(() => ({
      json: activeAnswer(NOW, 60),
      delayMs: 50,
    }))
    const pending = introspector.introspect('a')
    await new Promise((r) => setTimeout(r, 10))
    await introspector.evict('a')
    await pending
    await introspector.introspect('a')
    expect(server.calls).toHaveLength(2)
  })
})

describe('single flight', () => {
  it('concurrent requests for one uncached token make one call; other tokens their own', async () => {
    const { server, introspector } = await setup(() => ({
      json: activeAnswer(NOW, 60),
      delayMs: 40,
    }))
    const same = await Promise.all(Array.from({ length: 50 }, () => introspector.introspect('x')))
    expect(server.calls).toHaveLength(1)
    expect(new Set(same).size).toBe(1)
    expect(introspector.stats).toMatchObject({ calls: 1, coalesced: 49 })
    await Promise.all(['p', 'q', 'r', 'p', 'q'].map((t) => introspector.introspect(t)))
    expect(server.calls).toHaveLength(4)
  })

  it('a failure is shared by the waiting requests and not remembered', async () => {
    const { server, introspector } = await setup(() => ({ json: {}, status: 500, delayMs: 20 }))
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, () => introspector.introspect('x')),
    )
    expect(results.every((r) => r.status === 'rejected')).toBe(true)
    expect(server.calls).toHaveLength(1)
    server.answer(() => ({ json: activeAnswer(NOW, 60) }))
    await expect(introspector.introspect('x')).resolves.toMatchObject({ sub: 'svc-1' })
  })
})

describe('failures reject (the core answers 503), never allow', () => {
  it('non-200 statuses', async () => {
    for (const status of [500, 503, 401, 400, 404]) {
      const { introspector } = await setup(() => ({ json: { active: true }, status }))
      await expectUnavailable(introspector.introspect('t'), 'status')
    }
  })

  it('garbage: not JSON, not an object, no boolean active', async () => {
    const bodies: Behaviour[] = [
      { raw: '<html>oops</html>' },
      { raw: '' },
      { json: [{ active: true }] },
      { json: 'active' },
      { json: { active: 'true', sub: 'x' } },
      { json: { sub: 'x' } },
    ]
    for (const body of bodies) {
      const { introspector } = await setup(() => body)
      await expectUnavailable(introspector.introspect('t'))
    }
  })

  it('the endpoint down (connection refused)', async () => {
    const probe = createServer()
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()))
    const { port } = probe.address() as AddressInfo
    await new Promise<void>((r) => probe.close(() => r()))
    const introspector = createIntrospector({
      endpoint: `http://127.0.0.1:${port}/introspect`,
      clientId: 'a',
      clientSecret: 'b',
    })
    cleanup.push(() => introspector.close())
    await expectUnavailable(introspector.introspect('t'), 'unreachable')
  })

  it('a timeout: no answer within timeoutMs', async () => {
    const { introspector } = await setup(() => ({ handle: () => {} }), { timeoutMs: 150 })
    const started = performance.now()
    await expectUnavailable(introspector.introspect('t'), 'timeout')
    expect(performance.now() - started).toBeLessThan(1_000)
  })

  it('a response larger than maxResponseBytes, declared or chunked', async () => {
    const big = { ...activeAnswer(NOW, 60), padding: 'x'.repeat(5_000) }
    const declared = await setup(() => ({ json: big }), { maxResponseBytes: 1_024 })
    await expectUnavailable(declared.introspector.introspect('t'), 'too_large')
    const chunked = await setup(
      () => ({
        handle: (_req, res) => {
          res.writeHead(200, { 'content-type': 'application/json' })
          const body = JSON.stringify(big)
          for (let i = 0; i < body.length; i += 500) res.write(body.slice(i, i + 500))
          res.end()
        },
      }),
      { maxResponseBytes: 1_024 },
    )
    await expectUnavailable(chunked.introspector.introspect('t'), 'too_large')
    const fits = await setup(() => ({ json: big }), { maxResponseBytes: 8_192 })
    await expect(fits.introspector.introspect('t')).resolves.toMatchObject({ sub: 'svc-1' })
  })

  it('no redirects: a 3xx is a failure and its Location is never asked', async () => {
    const target = await startIntrospectionServer(() => ({ json: activeAnswer(NOW, 60) }))
    cleanup.push(() => target.close())
    for (const status of [301, 302, 307, 308]) {
      const { introspector } = await setup(() => ({
        raw: '',
        status,
        headers: { location: target.url },
      }))
      await expectUnavailable(introspector.introspect('t'), 'status')
    }
    expect(target.calls).toHaveLength(0)
  })

  it('a circuit breaker stops calls to a failing endpoint, then probes once after openMs', async () => {
    const { server, introspector, time } = await setup(() => ({ json: {}, status: 502 }), {
      breaker: { failureThreshold: 3, openMs: 10_000 },
    })
    for (let i = 0; i < 3; i++) await expectUnavailable(introspector.introspect(`t${i}`))
    expect(introspector.circuit).toBe('open')
    for (let i = 0; i < 20; i++) await expectUnavailable(introspector.introspect(`u${i}`))
    expect(server.calls).toHaveLength(3)
    expect(introspector.stats).toMatchObject({ calls: 3, failures: 3, shortCircuited: 20 })
    time.ms += 10_000
    expect(introspector.circuit).toBe('half-open')
    server.answer(() => ({ json: activeAnswer(NOW, 60) }))
    await expect(introspector.introspect('v')).resolves.toMatchObject({ sub: 'svc-1' })
    expect(introspector.circuit).toBe('closed')
    expect(server.calls).toHaveLength(4)
  })

  it('a cached answer is served within its TTL while the endpoint is down, and not after', async () => {
    const { server, introspector, time } = await setup(() => ({ json: activeAnswer(NOW, 30) }))
    await introspector.introspect('a')
    server.answer(() => ({ json: {}, status: 503 }))
    time.ms += 29_000
    await expect(introspector.introspect('a')).resolves.toMatchObject({ sub: 'svc-1' })
    time.ms += 1_000
    await expectUnavailable(introspector.introspect('a'))
  })
})

describe('options are checked at construction', () => {
  const base = { endpoint: 'https://as.example/introspect', clientId: 'a', clientSecret: 'b' }
  it.each([
    [
      { endpoint: 'not a url' },
      /^createIntrospector: introspection\.endpoint must be a valid URL, e\.g\. /,
    ],
    [{ endpoint: 'http://as.example/introspect' }, /introspection\.endpoint must be an https: URL/],
    [{ endpoint: 'https://a:b@as.example/introspect' }, /must be a URL without credentials/],
    [{ endpoint: 42 }, /introspection\.endpoint must be a URL string/],
    [{ clientSecret: undefined }, /introspection\.clientSecret/],
    [{ clientId: '' }, /introspection\.clientId/],
    [{ clientAuth: () => ({}) }, /either clientSecret or clientAuth/],
    [{ clientAuthMethod: 'private_key_jwt' }, /clientAuthMethod/],
    [{ timeoutMs: 0 }, /introspection\.timeoutMs/],
    [{ maxConnections: 2.5 }, /introspection\.maxConnections/],
    [{ maxResponseBytes: -1 }, /introspection\.maxResponseBytes/],
    [{ cache: { maxTtlSeconds: 0 } }, /introspection\.cache\.maxTtlSeconds/],
    [{ cache: { redis: { client: {} } } }, /introspection\.cache\.redis\.client/],
    [{ tokenTypeHint: '' }, /introspection\.tokenTypeHint/],
  ])('%o', (extra, message) => {
    expect(() => createIntrospector({ ...base, ...extra } as IntrospectorOptions)).toThrow(
      new RegExp(message.source),
    )
    expect(() => createIntrospector({ ...base, ...extra } as IntrospectorOptions)).toThrow(
      TypeError,
    )
  })

  it('accepts http: to loopback, or with allowHttp', async () => {
    const local: Introspector = createIntrospector({ ...base, endpoint: 'http://127.0.0.1:1/i' })
    const remote = createIntrospector({
      ...base,
      endpoint: 'http://as.internal/i',
      allowHttp: true,
    })
    await local.close()
    await remote.close()
    expect([local.stats.calls, remote.stats.calls]).toEqual([0, 0])
  })
})

describe('opens nothing until used', () => {
  it('no connection and no request until the first token, then one of each', async () => {
    const { server, introspector: idle } = await setup(() => ({ json: activeAnswer(NOW, 60) }))
    await idle.ready()
    // a second introspector on the same endpoint, created after the idle one, goes through the
    // whole path (client, connection, request): whatever the idle one started has arrived by then
    const busy = createIntrospector({ endpoint: server.url, clientId: 'b', clientSecret: 'c' })
    cleanup.push(() => busy.close())
    await expect(busy.introspect('opaque-busy')).resolves.toMatchObject({ sub: 'svc-1' })
    expect(server.calls.map((call) => [call.token, call.connection])).toEqual([['opaque-busy', 1]])
    expect(server.connections).toBe(1)
    expect(idle.stats.calls).toBe(0)

    await expect(idle.introspect('opaque-1')).resolves.toMatchObject({ sub: 'svc-1' })
    expect(server.calls.map((call) => [call.token, call.connection])).toEqual([
      ['opaque-busy', 1],
      ['opaque-1', 2],
    ])
    expect(server.connections).toBe(2)
    expect(idle.stats.calls).toBe(1)
  })
})
