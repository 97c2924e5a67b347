import { afterEach, describe, expect, it, vi } from 'vitest'
import { type AuthOptions, createAuth } from '../src/index.js'
import { resolveOptions } from '../src/options/resolve.js'
import { AUDIENCE, rsaKeyPair } from './helpers.js'

const rsa = rsaKeyPair()
const BASE = { algorithms: ['RS256'], publicKey: rsa.publicPem, audience: AUDIENCE } as const

function withOption(extra: Record<string, unknown>) {
  return () => createAuth({ ...BASE, algorithms: ['RS256'], ...extra } as AuthOptions)
}

afterEach(() => {
  vi.restoreAllMocks()
})

describe('the missing-audience warning', () => {
  it('is emitted once, not per instance', () => {
    const emit = vi.spyOn(process, 'emitWarning').mockImplementation(() => {})
    createAuth({ algorithms: ['RS256'], publicKey: rsa.publicPem })
    createAuth({ algorithms: ['RS256'], publicKey: rsa.publicPem })
    createAuth({ ...BASE, algorithms: ['RS256'] })
    expect(emit).toHaveBeenCalledTimes(1)
    expect(emit.mock.calls[0]?.[1]).toEqual({ code: 'AUTHFRAMEWORK_NO_AUDIENCE' })
  })
})

describe('unknown options', () => {
  it.each([
    'audiance',
    'algorithm',
    'clockTolerance',
    'issuerz',
    'ignoreExpiration',
    'secretOrPublicKey',
  ])('a misspelt %j is a TypeError naming it', (name) => {
    expect(withOption({ [name]: 'x' })).toThrow(TypeError)
    expect(withOption({ [name]: 'x' })).toThrow(`createAuth: ${name} must be a known option`)
  })

  it('refuses options that are not an object', () => {
    for (const options of [null, undefined, 'RS256', 42]) {
      expect(() => createAuth(options as unknown as AuthOptions)).toThrow(
        /^createAuth: options must be an object/,
      )
    }
  })
})

describe('option values', () => {
  it.each([
    ['clockToleranceSeconds', -1],
    ['clockToleranceSeconds', Number.NaN],
    ['clockToleranceSeconds', Number.POSITIVE_INFINITY],
    ['clockToleranceSeconds', '5'],
    ['maxTokenAgeSeconds', 0],
    ['maxTokenAgeSeconds', -60],
    ['maxTokenAgeSeconds', 1.5],
    ['maxTokenBytes', 0],
    ['maxTokenBytes', 8192.5],
    ['maxTokenBytes', '8192'],
    ['issuer', ''],
    ['issuer', []],
    ['issuer', ['https://a.example', '']],
    ['issuer', [1]],
    ['audience', ''],
    ['audience', []],
    ['requiredClaims', 'sub'],
    ['requiredClaims', [1]],
    ['typ', ''],
    ['typ', 1],
    ['mode', 'strict'],
    ['permissionsClaim', 'roles'],
    ['permissionsClaim', 'perm'],
    ['realm', ''],
    ['getToken', 'authorization'],
    ['clock', 'now'],
    ['clock', 1_700_000_000_000],
    ['cache', 'lru'],
    ['cache', { max: 0 }],
    ['cache', { max: -1 }],
    ['cache', { max: 1.5 }],
    ['cache', { maxTtlSeconds: 0 }],
    ['cache', { maxTtlSeconds: '300' }],
    ['compressed', { maxBytes: 0 }],
    ['compressed', { maxBytes: -1 }],
    ['permissions', { store: 'redis' }],
    ['permissions', { store: {} }],
    ['permissions', { store: async () => null, merge: 'both' }],
    ['permissions', null],
  ])('%s: %j is a TypeError naming the option', (name, value) => {
    expect(withOption({ [name]: value })).toThrow(TypeError)
    expect(withOption({ [name]: value })).toThrow(new RegExp(`^createAuth: ${name}`))
  })

  it('accepts the documented values', () => {
    expect(
      withOption({
        issuer: ['https://a.example', 'https://b.example'],
        audience: 'orders-api',
        clockToleranceSeconds: 0,
        requireExp: false,
        maxTokenAgeSeconds: 3600,
        requiredClaims: ['jti'],
        typ: 'at+jwt',
        mode: 'optional',
        cache: { max: 1, maxTtlSeconds: 1 },
        permissionsClaim: 'scope',
        permissions: { store: async () => null, merge: 'union' },
        realm: 'orders',
        cookie: 'access_token',
        getToken: () => undefined,
        maxTokenBytes: 100_000,
        compressed: { maxBytes: 1024 },
        clock: () => 0,
      }),
    ).not.toThrow()
    expect(withOption({ cache: false, compressed: false })).not.toThrow()
  })

  it('applies the defaults, frozen', () => {
    const resolved = resolveOptions({ ...BASE, algorithms: ['RS256'] })
    expect(Object.isFrozen(resolved)).toBe(true)
    expect(resolved).toMatchObject({
      mode: 'required',
      cache: { max: 10_000, maxTtlSeconds: 300 },
      permissionsClaim: 'perms',
      merge: 'claims',
      realm: 'api',
      maxTokenBytes: 8192,
      maxCompressedBytes: 16_384,
      store: undefined,
    })
    expect(resolved.claimRules).toMatchObject({
      toleranceSeconds: 0,
      requireExp: true,
      maxTokenAgeSeconds: undefined,
      requiredClaims: [],
    })
    expect([...resolved.headerRules.algorithms]).toEqual(['RS256'])
    expect(resolved.clock).toBe(Date.now)
  })

  it('defaults the store merge to "store"', () => {
    const resolved = resolveOptions({
      ...BASE,
      algorithms: ['RS256'],
      permissions: { store: async () => null },
    })
    expect(resolved.merge).toBe('store')
    expect(typeof resolved.store?.lookup).toBe('function')
  })

  it('normalizes the expected typ like jose', () => {
    expect(
      resolveOptions({ ...BASE, algorithms: ['RS256'], typ: 'Application/AT+JWT' }).headerRules.typ,
    ).toBe('at+jwt')
  })

  it('does not let later changes to the options object leak in', async () => {
    const options: AuthOptions = { ...BASE, algorithms: ['RS256'], issuer: ['https://a.example'] }
    const resolved = resolveOptions(options)
    ;(options.issuer as string[]).push('https://evil.example')
    expect(resolved.claimRules.issuer?.has('https://evil.example')).toBe(false)
  })
})
