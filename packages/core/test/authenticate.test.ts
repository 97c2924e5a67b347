import { describe, expect, it, vi } from 'vitest'
import {
  type AuthOptions,
  createAuth,
  createPermissionStore,
  type PermissionRecord,
  type PermissionSource,
  TokenRevokedError,
} from '../src/index.js'
import {
  AUDIENCE,
  authErrorOf,
  claims,
  fakeClock,
  INVALID_TOKEN_CHALLENGE,
  ISSUER,
  rsaKeyPair,
  signJwt,
  summary,
} from './helpers.js'

const rsa = rsaKeyPair()

function setup(extra: Partial<AuthOptions> = {}) {
  const { clock } = fakeClock()
  return createAuth({
    algorithms: ['RS256'],
    publicKey: rsa.publicPem,
    issuer: ISSUER,
    audience: AUDIENCE,
    clock,
    ...extra,
  } as AuthOptions)
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

describe('permissionsClaim', () => {
  it('reads perms by default', async () => {
    const auth = setup()
    const ctx = await auth.verify(
      await signJwt(
        claims({ perms: ['orders:read'], permissions: ['admin'], scope: 'admin' }),
        rsa.privateKey,
      ),
    )
    expect(ctx.permissions).toEqual(['orders:read'])
  })

  it('reads permissions', async () => {
    const auth = setup({ permissionsClaim: 'permissions' })
    const ctx = await auth.verify(
      await signJwt(
        claims({ perms: ['admin'], permissions: ['orders:read', 'orders:write'] }),
        rsa.privateKey,
      ),
    )
    expect(ctx.permissions).toEqual(['orders:read', 'orders:write'])
  })

  it('reads a space-delimited scope', async () => {
    const auth = setup({ permissionsClaim: 'scope' })
    const ctx = await auth.verify(
      await signJwt(
        claims({ scope: ' orders:read  invoices:read ', perms: ['admin'] }),
        rsa.privateKey,
      ),
    )
    expect(ctx.permissions).toEqual(['orders:read', 'invoices:read'])
    expect(Object.isFrozen(ctx.permissions)).toBe(true)
    const empty = await auth.verify(await signJwt(claims({ scope: '' }), rsa.privateKey))
    expect(empty.permissions).toEqual([])
  })

  it('grants nothing when the claim is absent', async () => {
    const ctx = await setup().verify(await signJwt(claims(), rsa.privateKey))
    expect(ctx.permissions).toEqual([])
  })

  it.each([
    ['perms', 'orders:read'],
    ['perms', [1]],
    ['perms', ['orders:read', null]],
    ['perms', { 0: 'orders:read' }],
    ['perms', null],
    ['permissions', 'orders:read'],
    ['scope', ['orders:read']],
    ['scope', 42],
  ] as const)('rejects a malformed %s claim %j as token_invalid', async (claim, value) => {
    const auth = setup({ permissionsClaim: claim })
    const error = await authErrorOf(async () =>
      auth.verify(await signJwt(claims({ [claim]: value }), rsa.privateKey)),
    )
    expect(summary(error)).toEqual({
      code: 'token_invalid',
      status: 401,
      'www-authenticate': INVALID_TOKEN_CHALLENGE(
        claim === 'scope'
          ? 'The scope claim must be a string.'
          : `The ${claim} claim must be an array of strings.`,
      ),
    })
  })
})

describe('a permission store', () => {
  const record: PermissionRecord = Object.freeze({
    permissions: Object.freeze(['store:read', 'orders:read']),
    roles: Object.freeze(['support']),
  })
  const tokenClaims = claims({ perms: ['orders:read', 'orders:write'] })

  it.each([
    ['claims', ['orders:read', 'orders:write']],
    ['store', ['store:read', 'orders:read']],
    ['union', ['orders:read', 'orders:write', 'store:read']],
  ] as const)('merge %s', async (merge, permissions) => {
    const lookup = vi.fn(async () => record)
    const auth = setup({ permissions: { store: lookup, merge } })
    const ctx = await auth.authenticate(bearer(await signJwt(tokenClaims, rsa.privateKey)))
    expect(lookup).toHaveBeenCalledWith('user-1')
    expect(ctx?.permissions).toEqual(permissions)
    expect(ctx?.roles).toEqual(['support'])
    expect(Object.isFrozen(ctx)).toBe(true)
    expect(Object.isFrozen(ctx?.permissions)).toBe(true)
    expect(Object.isFrozen(ctx?.roles)).toBe(true)
    expect(ctx?.claims.perms).toEqual(['orders:read', 'orders:write'])
  })

  it('merges with store by default', async () => {
    const auth = setup({ permissions: { store: async () => record } })
    const ctx = await auth.verify(await signJwt(tokenClaims, rsa.privateKey))
    expect(ctx.permissions).toEqual(['store:read', 'orders:read'])
  })

  it('accepts a PermissionSource object, and copies a record that is not frozen', async () => {
    const mutable = { permissions: ['orders:*'], roles: ['admin'] }
    const source: PermissionSource = { lookup: async () => mutable }
    const auth = setup({ permissions: { store: source } })
    const ctx = await auth.verify(await signJwt(tokenClaims, rsa.privateKey))
    mutable.permissions.push('*')
    mutable.roles.push('root')
    expect(ctx.permissions).toEqual(['orders:*'])
    expect(ctx.roles).toEqual(['admin'])
  })

  it('returns the same merged context for the same record and token', async () => {
    const auth = setup({ permissions: { store: async () => record, merge: 'union' } })
    const token = await signJwt(tokenClaims, rsa.privateKey)
    expect(await auth.verify(token)).toBe(await auth.verify(token))
  })

  it('answers null with user_inactive (401)', async () => {
    const auth = setup({ permissions: { store: async () => null } })
    const error = await authErrorOf(async () =>
      auth.verify(await signJwt(tokenClaims, rsa.privateKey)),
    )
    expect(summary(error)).toEqual({
      code: 'user_inactive',
      status: 401,
      'www-authenticate': INVALID_TOKEN_CHALLENGE('The user is unknown or inactive.'),
    })
  })

  it('rejecting is auth_unavailable (503) with the cause, never an allow', async () => {
    const cause = new Error('ECONNREFUSED 127.0.0.1:6379')
    for (const store of [
      async () => Promise.reject(cause),
      {
        lookup: () => {
          throw cause
        },
      } as unknown as PermissionSource,
    ]) {
      const auth = setup({ permissions: { store } })
      const error = await authErrorOf(async () =>
        auth.verify(await signJwt(tokenClaims, rsa.privateKey)),
      )
      expect({ code: error.code, status: error.status, headers: error.headers }).toEqual({
        code: 'auth_unavailable',
        status: 503,
        headers: { 'retry-after': '1' },
      })
      expect(error.cause).toBe(cause)
      expect(error.message).not.toContain('6379')
    }
  })

  it('passes an AuthError from the store through', async () => {
    const auth = setup({
      permissions: { store: async () => Promise.reject(new TokenRevokedError()) },
    })
    const error = await authErrorOf(async () =>
      auth.verify(await signJwt(tokenClaims, rsa.privateKey)),
    )
    expect(error).toMatchObject({ code: 'token_revoked', status: 401 })
  })

  it.each([
    ['undefined', undefined],
    ['a string', 'orders:*'],
    ['permissions as a string', { permissions: 'orders:*' }],
    ['permissions with a number', { permissions: ['orders:read', 1] }],
    ['roles as a string', { permissions: [], roles: 'admin' }],
  ])('fails closed (503) when the store answers %s', async (_name, answer) => {
    const auth = setup({
      permissions: { store: async () => answer as PermissionRecord, merge: 'union' },
    })
    const error = await authErrorOf(async () =>
      auth.verify(await signJwt(tokenClaims, rsa.privateKey)),
    )
    expect({ code: error.code, status: error.status }).toEqual({
      code: 'auth_unavailable',
      status: 503,
    })
  })

  it('is not asked about a token that fails verification', async () => {
    const lookup = vi.fn(async () => record)
    const auth = setup({ permissions: { store: lookup } })
    await authErrorOf(async () => auth.verify(await signJwt(claims({ aud: 'x' }), rsa.privateKey)))
    expect(lookup).not.toHaveBeenCalled()
  })

  it('is asked on every request, also on a verification-cache hit', async () => {
    let answer: PermissionRecord | null = record
    const auth = setup({ permissions: { store: async () => answer } })
    const token = await signJwt(tokenClaims, rsa.privateKey)
    await auth.verify(token)
    answer = null
    expect((await authErrorOf(() => auth.verify(token))).code).toBe('user_inactive')
  })
})

describe('modes', () => {
  it('required: no token is 401 credentials_missing', async () => {
    const auth = setup()
    expect(auth.mode).toBe('required')
    for (const authorization of [undefined, '', [], 'Basic dXNlcjpwYXNz']) {
      const error = await authErrorOf(() => auth.authenticate({ authorization }))
      expect(summary(error)).toEqual({
        code: 'credentials_missing',
        status: 401,
        'www-authenticate': 'Bearer realm="api"',
      })
    }
  })

  it('optional: no token is an anonymous request, synchronously', () => {
    const auth = setup({ mode: 'optional' })
    expect(auth.mode).toBe('optional')
    expect(auth.authenticate({ authorization: undefined })).toBeUndefined()
    expect(auth.authenticate({ authorization: 'Basic dXNlcjpwYXNz' })).toBeUndefined()
  })

  it('optional: an invalid token still throws', async () => {
    const auth = setup({ mode: 'optional' })
    const expired = await signJwt(claims({ exp: 1 }), rsa.privateKey)
    for (const [token, code] of [
      ['not-a-jwt', 'token_invalid'],
      [expired, 'token_expired'],
    ] as const) {
      const error = await authErrorOf(() => auth.authenticate(bearer(token)))
      expect(error).toMatchObject({ code, status: 401 })
    }
    const malformed = await authErrorOf(() => auth.authenticate({ authorization: 'Bearer a b' }))
    expect(malformed).toMatchObject({ code: 'invalid_request', status: 400 })
  })

  it('optional: requirePermission on an anonymous request is 401', async () => {
    const auth = setup({ mode: 'optional' })
    const anonymous = auth.authenticate({ authorization: undefined })
    const error = await authErrorOf(() => auth.guard('orders:read')(anonymous as undefined, {}))
    expect(summary(error)).toEqual({
      code: 'credentials_missing',
      status: 401,
      'www-authenticate': 'Bearer realm="api"',
    })
  })

  it('optional: a valid token is authenticated', async () => {
    const auth = setup({ mode: 'optional' })
    const ctx = await auth.authenticate(bearer(await signJwt(claims(), rsa.privateKey)))
    expect(ctx?.sub).toBe('user-1')
  })
})

describe('authenticate', () => {
  it('is synchronous with static keys and no store, and a promise with a store', async () => {
    const token = await signJwt(claims(), rsa.privateKey)
    const sync = setup().authenticate(bearer(token))
    expect(sync).not.toBeInstanceOf(Promise)
    expect((sync as { sub: string }).sub).toBe('user-1')
    const withStore = setup({ permissions: { store: async () => ({ permissions: [] }) } })
    const pending = withStore.authenticate(bearer(token))
    expect(pending).toBeInstanceOf(Promise)
    await expect(pending).resolves.toMatchObject({ sub: 'user-1' })
  })

  it('is synchronous when the permission store answers from memory (a cached token, a memory hit)', async () => {
    const token = await signJwt(claims(), rsa.privateKey)
    const source = vi.fn(async () => ({ permissions: ['orders:read'] }))
    const auth = setup({ permissions: { store: createPermissionStore({ source }) } })
    const first = auth.authenticate(bearer(token)) // the store's first read goes to the source
    expect(first).toBeInstanceOf(Promise)
    await expect(first).resolves.toMatchObject({ permissions: ['orders:read'] })
    const hit = auth.authenticate(bearer(token))
    expect(hit).not.toBeInstanceOf(Promise)
    expect(hit).toBe(await first) // the same merged context
    expect(source).toHaveBeenCalledTimes(1)
  })

  it("throws synchronously when the store's memory layer knows the user as inactive", async () => {
    const token = await signJwt(claims(), rsa.privateKey)
    const store = createPermissionStore({ source: async () => null })
    const auth = setup({ permissions: { store } })
    expect((await authErrorOf(async () => auth.authenticate(bearer(token)))).code).toBe(
      'user_inactive',
    )
    expect(() => auth.authenticate(bearer(token))).toThrow(
      expect.objectContaining({ code: 'user_inactive', status: 401 }),
    )
  })

  it('throws synchronously on the synchronous path', () => {
    expect(() => setup().authenticate({ authorization: 'Bearer x.y.z' })).toThrow(
      expect.objectContaining({ code: 'token_invalid' }),
    )
  })

  it('reads the token with getToken, which sees the framework request', async () => {
    const token = await signJwt(claims(), rsa.privateKey)
    const getToken = vi.fn((req: { query: { access_token?: string } }) => req.query.access_token)
    const auth = setup({ getToken } as Partial<AuthOptions>)
    const request = { query: { access_token: token } }
    const ctx = await auth.authenticate({ authorization: undefined, request })
    expect(ctx?.sub).toBe('user-1')
    expect(getToken).toHaveBeenCalledWith(request)
    const twice = await authErrorOf(() => auth.authenticate({ ...bearer(token), request }))
    expect(twice).toMatchObject({ code: 'invalid_request', status: 400 })
  })

  it('verify always returns a promise, also for synchronous failures', async () => {
    const auth = setup()
    const result = auth.verify('x')
    expect(result).toBeInstanceOf(Promise)
    await expect(result).rejects.toMatchObject({ code: 'token_invalid' })
  })

  it('close() clears the cache and resolves', async () => {
    const auth = setup()
    const token = await signJwt(claims(), rsa.privateKey)
    const first = await auth.verify(token)
    await expect(auth.close()).resolves.toBeUndefined()
    expect(await auth.verify(token)).not.toBe(first)
  })
})
