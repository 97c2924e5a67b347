import { describe, expect, it } from 'vitest'
import {
  type AuthError,
  createAuth,
  createSigner,
  type TokenIntrospector,
} from '../../src/index.js'

const ISS = 'https://issuer.example'
const AUD = 'orders-api'
const NOW = 1_800_000_000

function setup(answer: (token: string) => Promise<Record<string, unknown> | null>) {
  const calls: string[] = []
  const introspector: TokenIntrospector = {
    introspect: (token) => {
      calls.push(token)
      return answer(token)
    },
  }
  const signer = createSigner({
    algorithm: 'ES256',
    issuer: ISS,
    audience: AUD,
    clock: () => NOW * 1000,
  })
  const auth = createAuth({
    publicKey: signer.publicKey!,
    issuer: ISS,
    audience: AUD,
    clock: () => NOW * 1000,
    introspection: introspector,
  })
  return { auth, signer, calls }
}

const active = {
  active: true,
  sub: 'svc-1',
  iss: ISS,
  aud: AUD,
  exp: NOW + 60,
  scope: 'orders:read',
}

describe('opaque tokens through an introspector', () => {
  it('asks the introspector on every request (its own cache decides), and verifies JWTs locally', async () => {
    const { auth, signer, calls } = setup(async () => active)
    const ctx = await auth.verify('opaque-token-123')
    expect(ctx).toMatchObject({ sub: 'svc-1', expiresAt: NOW + 60 })
    await auth.verify('opaque-token-123')
    // never reused from the verification cache: this introspector caches nothing, so it is asked twice
    expect(calls).toEqual(['opaque-token-123', 'opaque-token-123'])
    await auth.verify(signer.sign({ sub: 'u1' }))
    expect(calls).toHaveLength(2)
  })

  it('an inactive token is 401, an unreachable server is 503, and claims are still checked', async () => {
    const inactive = setup(async () => null)
    await expect(inactive.auth.verify('opaque')).rejects.toMatchObject({
      code: 'token_invalid',
      status: 401,
    })
    const down = setup(() => Promise.reject(new Error('ECONNREFUSED')))
    await expect(down.auth.verify('opaque')).rejects.toMatchObject({
      code: 'auth_unavailable',
      status: 503,
    })
    const otherAudience = setup(async () => ({ ...active, aud: 'billing-api' }))
    const err = await otherAudience.auth.verify('opaque').catch((e: AuthError) => e)
    expect(err).toMatchObject({ code: 'token_invalid' })
    const expired = setup(async () => ({ ...active, exp: NOW - 1 }))
    await expect(expired.auth.verify('opaque')).rejects.toMatchObject({ code: 'token_expired' })
    expect(inactive.calls).toEqual(['opaque'])
  })

  it('revoking an opaque token rejects it and evicts it from the introspector cache', async () => {
    const { auth, calls } = setup(async () => active)
    const evicted: string[] = []
    const withEvict = createAuth({
      audience: AUD,
      issuer: ISS,
      clock: () => NOW * 1000,
      secret: 'a-secret-for-hmac-that-is-long-enough-0123456789',
      algorithms: ['HS256'],
      introspection: {
        introspect: async () => active,
        evict: async (token) => {
          evicted.push(token)
        },
      },
    })
    await withEvict.verify('opaque-abc')
    await withEvict.revoke({ token: ' opaque-abc\n' })
    expect(evicted).toEqual(['opaque-abc'])
    await expect(withEvict.verify('opaque-abc')).rejects.toMatchObject({ code: 'token_revoked' })
    expect(await auth.verify('other')).toMatchObject({ sub: 'svc-1' })
    expect(calls).toEqual(['other'])
  })
})
