import { describe, expect, it, vi } from 'vitest'
import {
  type AuthContext,
  allOf,
  anyOf,
  compileGrants,
  compileRequirement,
  createGuard,
  not,
  type Requirement,
} from '../../src/index.js'
import { grantsOf } from '../../src/permissions/match.js'
import { permissionsFromClaims } from '../../src/permissions/resolve.js'
import { authErrorOf } from '../helpers.js'

function ctx(...permissions: string[]): AuthContext {
  return Object.freeze({
    sub: 'user-1',
    claims: Object.freeze({}),
    permissions: Object.freeze(permissions),
  })
}

async function allowed(requirements: Requirement[], auth: AuthContext, request: unknown = {}) {
  return compileRequirement(requirements).check(auth, request)
}

describe('wildcard grants', () => {
  it('orders:* grants what is under orders: and nothing else', () => {
    const grants = compileGrants(['orders:*'])
    for (const yes of ['orders:read', 'orders:a:b', 'orders:*', 'orders::'])
      expect(grants.has(yes)).toBe(true)
    for (const no of [
      'orders',
      'orders:',
      'ordersx:read',
      'order:read',
      'Orders:read',
      'invoices:read',
      '*',
      '',
    ])
      expect(grants.has(no)).toBe(false)
  })

  it('* grants everything', () => {
    const grants = compileGrants(['orders:read', '*'])
    for (const yes of ['orders', 'anything:at:all', '*', 'x']) expect(grants.has(yes)).toBe(true)
  })

  it('exact grants match exactly', () => {
    const grants = compileGrants(['orders:read'])
    expect(grants.has('orders:read')).toBe(true)
    for (const no of ['orders:read:x', 'orders:rea', 'orders:*', 'orders', 'ORDERS:READ'])
      expect(grants.has(no)).toBe(false)
  })

  it('a wildcard anywhere but at the end is literal', () => {
    const grants = compileGrants(['*:read', 'orders:*:write', ':*', 'a*'])
    expect(grants.has('orders:read')).toBe(false)
    expect(grants.has('orders:x:write')).toBe(false)
    expect(grants.has('*:read')).toBe(true)
    expect(grants.has(':x')).toBe(false)
    expect(grants.has('ab')).toBe(false)
  })

  it('no grants grant nothing', () => {
    expect(compileGrants([]).has('orders:read')).toBe(false)
  })

  it('compiles a frozen array once', () => {
    const perms = Object.freeze(['orders:*'])
    expect(grantsOf(perms)).toBe(grantsOf(perms))
  })
})

describe('combinators', () => {
  it('a list of requirements means all of them', async () => {
    expect(
      await allowed(['orders:read', 'invoices:read'], ctx('orders:read', 'invoices:read')),
    ).toBe(true)
    expect(await allowed(['orders:read', 'invoices:read'], ctx('orders:read'))).toBe(false)
  })

  it('allOf, anyOf and not', async () => {
    const rule = allOf('orders:read', anyOf('admin', 'support'), not('banned'))
    expect(await allowed([rule], ctx('orders:read', 'support'))).toBe(true)
    expect(await allowed([rule], ctx('orders:*', 'admin'))).toBe(true)
    expect(await allowed([rule], ctx('orders:read'))).toBe(false)
    expect(await allowed([rule], ctx('orders:read', 'admin', 'banned'))).toBe(false)
    expect(await allowed([rule], ctx('*'))).toBe(false) // '*' grants 'banned' too
    expect(await allowed([not(not('x'))], ctx('x'))).toBe(true)
    expect(await allowed([anyOf('a', 'b')], ctx())).toBe(false)
  })

  it('lists in scope the permissions required outside not', () => {
    const { scope } = compileRequirement([
      allOf('orders:read', anyOf('admin', 'support'), not('banned')),
      not(allOf('suspended', not('reinstated'))),
      'orders:read',
    ])
    expect(scope).toEqual(['orders:read', 'admin', 'support', 'reinstated'])
  })
})

describe('predicates', () => {
  it('get the context and the request; only true allows', async () => {
    const request = { ip: '10.0.0.1' }
    const seen: unknown[] = []
    const predicate = (auth: AuthContext, req: unknown) => {
      seen.push(auth.sub, req)
      return true
    }
    expect(await allowed([predicate], ctx(), request)).toBe(true)
    expect(seen).toEqual(['user-1', request])
    for (const truthy of [1, 'yes', {}, [], Promise.resolve(1)]) {
      expect(await allowed([() => truthy as never], ctx())).toBe(false)
    }
  })

  it('may be async, alone and inside combinators', async () => {
    const yes = async () => true
    const no = async () => false
    expect(await allowed([yes], ctx())).toBe(true)
    expect(await allowed([no], ctx())).toBe(false)
    expect(await allowed([anyOf(no, 'admin')], ctx('admin'))).toBe(true)
    expect(await allowed([anyOf(no, no)], ctx('admin'))).toBe(false)
    expect(await allowed([allOf(yes, 'admin')], ctx('admin'))).toBe(true)
    expect(await allowed([allOf(yes, 'admin')], ctx())).toBe(false)
    expect(await allowed([not(no)], ctx())).toBe(true)
    expect(await allowed([not(yes)], ctx())).toBe(false)
  })

  it('short-circuit: allOf stops at the first false, anyOf at the first true', async () => {
    const later = vi.fn(async () => true)
    expect(await allowed([allOf(async () => false, later)], ctx())).toBe(false)
    expect(await allowed([anyOf(async () => true, later)], ctx())).toBe(true)
    expect(await allowed([allOf('missing', later)], ctx())).toBe(false)
    expect(later).not.toHaveBeenCalled()
  })

  it('stay synchronous when nothing is async', () => {
    const { check } = compileRequirement([allOf('a', () => true)])
    expect(check(ctx('a'), {})).toBe(true)
  })
})

describe('compile-time errors', () => {
  it.each(['', 'orders read', 'a"b', 'a\\b', 'é', 'a\tb', 'a\nb'])(
    'refuses the permission %j with a TypeError',
    (permission) => {
      expect(() => compileRequirement([permission])).toThrow(TypeError)
      expect(() => compileRequirement([anyOf('ok', not(permission))])).toThrow(
        /is not a valid permission/,
      )
    },
  )

  it('refuses empty requirement lists and things that are not requirements', () => {
    expect(() => compileRequirement([])).toThrow(TypeError)
    expect(() => compileRequirement([allOf()])).toThrow(/needs at least one/)
    expect(() => compileRequirement([anyOf()])).toThrow(TypeError)
    for (const bad of [42, null, undefined, {}, ['orders:read'], { items: ['a'] }]) {
      expect(() => compileRequirement([bad as unknown as Requirement])).toThrow(TypeError)
    }
  })
})

describe('createGuard', () => {
  it('returns synchronously when allowed', () => {
    expect(createGuard(['orders:read'])(ctx('orders:*'), {})).toBeUndefined()
  })

  it('denies with 403 insufficient_scope and the required scope', async () => {
    const guard = createGuard([anyOf('orders:read', 'admin'), not('banned')])
    const error = await authErrorOf(() => guard(ctx('invoices:read'), {}))
    expect({
      code: error.code,
      status: error.status,
      challenge: error.headers['www-authenticate'],
    }).toEqual({
      code: 'permission_denied',
      status: 403,
      challenge:
        'Bearer realm="api", error="insufficient_scope", error_description="The token does not grant the required permissions.", scope="orders:read admin"',
    })
  })

  it('denies asynchronously', async () => {
    const guard = createGuard([async () => false], 'orders')
    const result = guard(ctx(), {})
    expect(result).toBeInstanceOf(Promise)
    const error = await authErrorOf(() => result)
    expect(error).toMatchObject({ code: 'permission_denied', status: 403 })
    expect(error.headers['www-authenticate']).toBe(
      'Bearer realm="orders", error="insufficient_scope", error_description="The token does not grant the required permissions."',
    )
    await expect(createGuard([async () => true])(ctx(), {})).resolves.toBeUndefined()
  })

  it('answers an anonymous request with 401', async () => {
    const error = await authErrorOf(() => createGuard(['orders:read'])(undefined, {}))
    expect({
      code: error.code,
      status: error.status,
      challenge: error.headers['www-authenticate'],
    }).toEqual({
      code: 'credentials_missing',
      status: 401,
      challenge: 'Bearer realm="api"',
    })
  })

  it('fails closed when a predicate throws or rejects', async () => {
    const boom = new Error('db down')
    await expect(
      Promise.resolve().then(() =>
        createGuard([
          () => {
            throw boom
          },
        ])(ctx(), {}),
      ),
    ).rejects.toBe(boom)
    await expect(createGuard([async () => Promise.reject(boom)])(ctx(), {})).rejects.toBe(boom)
  })
})

describe("a token's wildcards", () => {
  it('are dropped unless tokenWildcards is set, from every permissions claim', () => {
    const perms = Object.freeze(['*', 'orders:*', 'orders:read', 'a:*:b', ':*'])
    expect(permissionsFromClaims({ perms }, 'perms')).toEqual(['orders:read', 'a:*:b', ':*'])
    expect(permissionsFromClaims({ permissions: perms }, 'permissions')).toEqual([
      'orders:read',
      'a:*:b',
      ':*',
    ])
    expect(permissionsFromClaims({ scope: 'orders:read * billing:*' }, 'scope')).toEqual([
      'orders:read',
    ])
    expect(permissionsFromClaims({ perms }, 'perms', true)).toBe(perms)
    // nothing to drop: the claim's own frozen array, no copy
    const plain = Object.freeze(['orders:read'])
    expect(permissionsFromClaims({ perms: plain }, 'perms')).toBe(plain)
    // what is dropped grants nothing; what is left matches literally
    const grants = compileGrants(permissionsFromClaims({ perms }, 'perms'))
    expect(grants.has('orders:write')).toBe(false)
    expect(grants.has('anything')).toBe(false)
    expect(grants.has('a:*:b')).toBe(true)
  })
})
