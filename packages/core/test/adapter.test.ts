import { describe, expect, it } from 'vitest'
import {
  type AuthContext,
  AuthError,
  createAdapter,
  createAuth,
  createPathMatcher,
  type ErrorResponse,
  type FrameworkHooks,
  isPromise,
  setupAdapter,
} from '../src/index.js'
import { AUDIENCE, claims, fakeClock, rsaKeyPair, signJwt } from './helpers.js'

const rsa = rsaKeyPair()
const GET = { method: 'GET' }
const CORE = { algorithms: ['RS256'], publicKey: rsa.publicPem, audience: AUDIENCE } as const

describe('createPathMatcher', () => {
  const isPublic = createPathMatcher(['/health', '/docs/*', /^\/assets\/[a-z]+\.css$/g])

  it.each(['/health', '/docs/', '/docs/intro', '/docs/a/b', '/assets/site.css'])(
    '%s is public',
    (path) => {
      expect(isPublic(path)).toBe(true)
    },
  )

  it.each([
    '/health/',
    '/healthz',
    '/HEALTH',
    '/docs',
    '/docsx/a',
    '/api/health',
    '/assets/x.js',
    '/',
    '',
  ])('%s is not', (path) => {
    expect(isPublic(path)).toBe(false)
  })

  it('resets a global RegExp between calls', () => {
    for (let i = 0; i < 3; i++) expect(isPublic('/assets/site.css')).toBe(true)
  })

  it.each(['health', '*', '', 42, null])('refuses the rule %j', (rule) => {
    expect(() => createPathMatcher([rule as string])).toThrow(TypeError)
  })
})

describe('setupAdapter', () => {
  it('builds an instance from options and resolves the adapter options', () => {
    const setup = setupAdapter({
      ...CORE,
      algorithms: ['RS256'],
      unless: ['/health'],
      errors: 'propagate',
    })
    expect(typeof setup.auth.authenticate).toBe('function')
    expect(setup.propagate).toBe(true)
    expect(setup.skip({}, '/health', GET, {})).toBe(true)
    expect(setup.skip({}, '/orders', GET, {})).toBe(false)
  })

  it('takes a prebuilt instance as is', () => {
    const auth = createAuth({ ...CORE, algorithms: ['RS256'] })
    const setup = setupAdapter(auth, { unless: (req: { public?: boolean }) => req.public === true })
    expect(setup.auth).toBe(auth)
    expect(setup.propagate).toBe(false)
    expect(setup.skip({ public: true }, '/x', GET, {})).toBe(true)
    expect(setup.skip({}, '/x', GET, {})).toBe(false)
  })

  it('only skips when an unless function returns exactly true', () => {
    const setup = setupAdapter({
      ...CORE,
      algorithms: ['RS256'],
      unless: () => 'yes' as unknown as boolean,
    })
    expect(setup.skip({}, '/x', GET, {})).toBe(false)
  })

  it('skips CORS preflights, not other OPTIONS requests', () => {
    const setup = setupAdapter({ ...CORE, algorithms: ['RS256'] })
    const preflight = { 'access-control-request-method': 'GET' }
    expect(setup.skip({}, '/orders', { method: 'OPTIONS' }, preflight)).toBe(true)
    expect(setup.skip({}, '/orders', { method: 'OPTIONS' }, {})).toBe(false)
    expect(setup.skip({}, '/orders', GET, preflight)).toBe(false)
  })

  it('checks its options at construction', () => {
    expect(() =>
      setupAdapter({ ...CORE, algorithms: ['RS256'], errors: 'ignore' as 'respond' }),
    ).toThrow(TypeError)
    expect(() =>
      setupAdapter({ ...CORE, algorithms: ['RS256'], unless: '/health' as never }),
    ).toThrow(TypeError)
    expect(() => setupAdapter({ ...CORE, algorithms: ['RS256'], unless: ['health'] })).toThrow(
      TypeError,
    )
    expect(() => setupAdapter(null as never)).toThrow(TypeError)
    // core options are still checked, with the adapter options taken out first
    expect(() => setupAdapter({ ...CORE, algorithms: ['RS256'], unles: ['/x'] } as never)).toThrow(
      /must be a known option/,
    )
  })
})

describe('options beside a prebuilt instance', () => {
  const auth = createAuth({ ...CORE, algorithms: ['RS256'] })

  it('accepts { auth } with adapter options, and does not own the instance', () => {
    const setup = setupAdapter({ auth, unless: ['/health'], errors: 'propagate' })
    expect(setup.auth).toBe(auth)
    expect(setup.owned).toBe(false)
    expect(setup.propagate).toBe(true)
    expect(setup.skip({}, '/health', GET, {})).toBe(true)
    expect(setupAdapter({ ...CORE, algorithms: ['RS256'] }).owned).toBe(true)
  })

  it.each([
    ['a core option', { issuer: 'https://good.example' }, /issuer: a core option cannot be given/],
    ['a misspelt option', { unles: ['/x'] }, /unles: unknown option/],
  ])('refuses %s beside { auth }', (_, extra, message) => {
    expect(() => setupAdapter({ auth, ...extra } as never)).toThrow(TypeError)
    expect(() => setupAdapter({ auth, ...extra } as never)).toThrow(message)
  })

  it.each([
    ['a core option', { audience: 'orders-api' }, /audience: a core option cannot be given/],
    ['a misspelt option', { optinal: ['/x'] }, /optinal: unknown option/],
  ])('refuses %s in the adapter options argument', (_, extra, message) => {
    expect(() => setupAdapter(auth, extra as never)).toThrow(message)
    expect(() => setupAdapter({ ...CORE, algorithms: ['RS256'] }, extra as never)).toThrow(message)
  })

  it('refuses an auth that is not an instance', () => {
    expect(() => setupAdapter({ auth: {} } as never)).toThrow(/auth: expected a createAuth/)
  })
})

describe('isPromise', () => {
  it('recognizes thenables only', () => {
    expect(isPromise(Promise.resolve(1))).toBe(true)
    const thenable = Object.defineProperty({}, 'then', { value: () => undefined })
    expect(isPromise(thenable as Promise<number>)).toBe(true)
    expect(isPromise(1)).toBe(false)
    expect(isPromise(undefined)).toBe(false)
    expect(isPromise({ sub: 'u' })).toBe(false)
  })
})

describe('createAdapter', () => {
  interface Req {
    path: string
    auth?: AuthContext | undefined
  }
  const clock = fakeClock().clock

  function setup(
    extra: Record<string, unknown> = {},
    propagate?: FrameworkHooks<Req, ErrorResponse[]>['propagate'],
  ) {
    const paths: string[] = []
    const hooks: FrameworkHooks<Req, ErrorResponse[]> = {
      path: (req) => {
        paths.push(req.path)
        return req.path
      },
      setAuth: (req, auth) => {
        req.auth = auth
      },
      respond: (sent, response) => {
        sent.push(response)
      },
      propagate,
    }
    const adapter = createAdapter<Req, ErrorResponse[]>(
      { ...CORE, clock, ...extra } as never,
      undefined,
      hooks,
    )
    const call = (authorization: string | undefined, method = 'GET', path = '/orders') => {
      const req: Req = { path }
      const raw = { method, headers: { authorization } }
      const sent: ErrorResponse[] = []
      const nexts: unknown[] = []
      const result = adapter.authenticate(req, raw, sent, (error?: AuthError) => {
        nexts.push(error)
        return 'next'
      })
      return { req, sent, nexts, result }
    }
    return { adapter, call, paths }
  }

  it('sets auth and calls next synchronously for a valid token', async () => {
    const token = await signJwt(claims(), rsa.privateKey)
    const { call } = setup()
    const { req, sent, nexts, result } = call(`Bearer ${token}`)
    expect(result).toBe('next')
    expect(req.auth?.sub).toBe('user-1')
    expect(sent).toEqual([])
    expect(nexts).toEqual([undefined])
  })

  it('answers a failure with the error response, without calling next', () => {
    const { call } = setup()
    const { req, sent, nexts, result } = call(undefined)
    expect(result).toBeUndefined()
    expect(req.auth).toBeUndefined()
    expect(nexts).toEqual([])
    expect(sent).toHaveLength(1)
    expect(sent[0]).toMatchObject({ status: 401 })
    expect(sent[0]?.headers['www-authenticate']).toBe('Bearer realm="api"')
  })

  it("propagates a failure through next(error), or the framework's own way", () => {
    const viaNext = setup({ errors: 'propagate' }).call(undefined)
    expect(viaNext.sent).toEqual([])
    expect(viaNext.nexts[0]).toBeInstanceOf(AuthError)
    const throwing = setup({ errors: 'propagate' }, (error) => {
      throw error
    })
    expect(() => throwing.call(undefined)).toThrow(AuthError)
  })

  it('settles an asynchronous result the same way', async () => {
    const token = await signJwt(claims(), rsa.privateKey)
    const store = { lookup: async () => ({ permissions: ['orders:read'] }) }
    const { call } = setup({ permissions: { store } })
    const ok = call(`Bearer ${token}`)
    expect(isPromise(ok.result)).toBe(true)
    expect(await ok.result).toBe('next')
    expect(ok.req.auth?.permissions).toEqual(['orders:read'])
    const down = setup({ permissions: { store: { lookup: () => Promise.reject(new Error('x')) } } })
    const failed = down.call(`Bearer ${token}`)
    await failed.result
    expect(failed.sent[0]?.status).toBe(503)
    expect(failed.nexts).toEqual([])
  })

  it('skips preflights and unless paths, reading the path only for path rules', () => {
    const plain = setup()
    const preflight = { path: '/orders' }
    const nexts: unknown[] = []
    plain.adapter.authenticate(
      preflight,
      { method: 'OPTIONS', headers: { 'access-control-request-method': 'GET' } } as never,
      [],
      () => nexts.push('next'),
    )
    expect(nexts).toEqual(['next'])
    expect(plain.paths).toEqual([])
    const ruled = setup({ unless: ['/health'], optional: ['/catalog'] })
    expect(ruled.call(undefined, 'GET', '/health').nexts).toEqual([undefined])
    expect(ruled.call(undefined, 'GET', '/catalog').nexts).toEqual([undefined])
    expect(ruled.call(undefined, 'GET', '/orders').sent).toHaveLength(1)
    expect(ruled.paths).toEqual(['/health', '/catalog', '/orders'])
  })

  it("lets the caller override the mode for one request (a route's own setting)", () => {
    const { adapter } = setup()
    const req: Req = { path: '/x' }
    const result = adapter.authenticate(req, { headers: {} }, [], () => 'next', 'optional')
    expect(result).toBe('next')
    expect(req.auth).toBeUndefined()
  })

  it('runs guards: next when allowed, the error response when denied', async () => {
    const { adapter } = setup()
    const guard = adapter.auth.guard('orders:write')
    const sent: ErrorResponse[] = []
    const granted = { sub: 'u', claims: {}, permissions: ['orders:write'] }
    expect(adapter.authorize(guard, granted, { path: '/' }, sent, () => 'next')).toBe('next')
    expect(
      adapter.authorize(guard, { ...granted, permissions: [] }, { path: '/' }, sent, () => 'next'),
    ).toBeUndefined()
    expect(sent[0]).toMatchObject({ status: 403 })
  })

  it('closes only an instance it built', async () => {
    let closed = 0
    const auth = createAuth({ ...CORE, algorithms: ['RS256'] })
    auth.close = async () => {
      closed++
    }
    const hooks = { path: () => '', setAuth: () => {}, respond: () => {} }
    await createAdapter(auth, undefined, hooks).close()
    expect(closed).toBe(0)
    const built = createAdapter({ ...CORE, algorithms: ['RS256'] }, undefined, hooks)
    expect(built.owned).toBe(true)
    await expect(built.close()).resolves.toBeUndefined()
  })
})
