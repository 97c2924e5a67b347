/** Edge cases found in review: each would otherwise fail open or misreport. */
import { describe, expect, it } from 'vitest'
import {
  type AuthError,
  AuthUnavailableError,
  createAuth,
  createMetrics,
  createSigner,
  type RevocationEntry,
  type RevocationList,
  requestInput,
  type TokenIntrospector,
} from '../src/index.js'

const SECRET = 'an-hmac-secret-of-more-than-thirty-two-bytes!!'
const AUD = 'api'
const base = { algorithms: ['HS256' as const], secret: SECRET, audience: AUD }
const signer = createSigner({ algorithm: 'HS256', secret: SECRET, audience: AUD })

const errorOf = async (call: () => unknown) => {
  try {
    await call()
  } catch (e) {
    return e as AuthError
  }
  throw new Error('expected a failure')
}

describe('hardening', () => {
  it('a store 503 without a dependency is counted under the step that called it', async () => {
    const metrics = createMetrics()
    const revocation: RevocationList = {
      isRevoked: () => Promise.reject(new AuthUnavailableError('redis down')),
      revoke: async () => {},
    }
    const auth = createAuth({ ...base, metrics, revocation })
    const err = await errorOf(() => auth.verify(signer.sign({ sub: 'u' })))
    expect(err).toMatchObject({ code: 'auth_unavailable', dependency: 'revocation' })
    expect(metrics.snapshot().infrastructureErrors).toMatchObject({ revocation: 1, permissions: 0 })
  })

  it('a predicate that throws is a 503, never an allow and never a 401', async () => {
    const auth = createAuth(base)
    const ctx = await auth.verify(signer.sign({ sub: 'u' }))
    const guard = auth.guard(() => {
      throw new Error('ownership lookup failed')
    })
    expect(await errorOf(() => auth.authorize(guard, ctx, {}))).toMatchObject({
      code: 'auth_unavailable',
      status: 503,
    })
    const asyncGuard = auth.guard(async () => {
      throw new Error('ownership lookup failed')
    })
    expect(await errorOf(() => auth.authorize(asyncGuard, ctx, {}))).toMatchObject({
      code: 'auth_unavailable',
    })
  })

  it('introspection alone needs no key source, and then refuses every JWT', async () => {
    const introspection: TokenIntrospector = {
      introspect: async () => ({ sub: 's', aud: AUD, exp: Date.now() / 1000 + 60 }),
    }
    const auth = createAuth({ audience: AUD, introspection })
    expect(await auth.verify('opaque')).toMatchObject({ sub: 's' })
    expect(await errorOf(() => auth.verify(signer.sign({ sub: 'u' })))).toMatchObject({
      code: 'token_invalid',
    })
    expect(() => createAuth({ audience: AUD, introspection, algorithms: ['RS256'] })).toThrow(
      TypeError,
    )
  })

  it('close() closes only what the instance built', async () => {
    const closed: string[] = []
    const revocation: RevocationList = {
      isRevoked: () => false,
      revoke: async () => {},
      close: async () => {
        closed.push('revocation')
      },
    }
    const introspection: TokenIntrospector = {
      introspect: async () => null,
      close: async () => {
        closed.push('introspector')
      },
    }
    await createAuth({ ...base, revocation, introspection }).close()
    expect(closed).toEqual([])
  })

  it('a token outside the b64token alphabet never reaches the cache, whatever carried it', async () => {
    const introspection: TokenIntrospector = {
      introspect: async () => ({ sub: 's', aud: AUD, exp: Date.now() / 1000 + 60 }),
    }
    const auth = createAuth({
      audience: AUD,
      introspection,
      getToken: () => 'opaque?1',
      cookie: 'at',
    })
    expect(await errorOf(() => auth.authenticate(requestInput({ headers: {} }, {})))).toMatchObject(
      { code: 'token_invalid' },
    )
    const header = createAuth({ audience: AUD, introspection })
    expect(
      await errorOf(() =>
        header.authenticate(requestInput({ headers: { authorization: 'Bearer opaque?1' } })),
      ),
    ).toMatchObject({
      code: 'invalid_request',
      status: 400,
    })
  })

  it('refuses option values that would silently weaken a check', () => {
    expect(() => createAuth({ ...base, requireExp: 0 as never })).toThrow(/requireExp/)
    expect(() => createAuth({ ...base, jwks: { timeoutMs: 100 } })).toThrow(/jwks/)
  })

  it('"log out everywhere" lasts as long as the oldest token it covers can live', async () => {
    const entries: RevocationEntry[] = []
    const revocation: RevocationList = {
      isRevoked: () => false,
      revoke: async (e) => {
        entries.push(e)
      },
    }
    const now = 1_800_000_000
    const clock = () => now * 1000
    await createAuth({ ...base, clock, revocation, maxTokenAgeSeconds: 3600 }).revoke({ sub: 'u' })
    await createAuth({ ...base, clock, revocation }).revoke({ sub: 'u' })
    await createAuth({ ...base, clock, revocation }).revoke({
      sub: 'u',
      before: now,
      expiresAt: now + 90 * 86_400,
    })
    expect(entries.map((e) => e.expiresAt - now)).toEqual([3600, 30 * 86_400, 90 * 86_400])
  })
})
