import { describe, expect, it } from 'vitest'
import { createAuth, createPathMatcher, isPromise, setupAdapter } from '../src/index.js'
import { AUDIENCE, rsaKeyPair } from './helpers.js'

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
