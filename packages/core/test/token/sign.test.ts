import { describe, expect, it } from 'vitest'
import { type Algorithm, createAuth, createSigner } from '../../src/index.js'

const ISS = 'https://issuer.example'
const AUD = 'orders-api'
const SECRET = 'a-test-secret-that-is-at-least-64-bytes-long-for-hs512-0123456789abcdef'

describe('createSigner', () => {
  it.each<Algorithm>(['RS256', 'PS256', 'ES256', 'ES384', 'ES512', 'EdDSA', 'HS256', 'HS512'])(
    '%s tokens verify with createAuth for the same key',
    async (algorithm) => {
      const signer = createSigner(
        algorithm.startsWith('HS')
          ? { algorithm, secret: SECRET, issuer: ISS, audience: AUD }
          : { algorithm, issuer: ISS, audience: AUD },
      )
      const auth = createAuth(
        signer.publicKey
          ? { algorithms: [algorithm], publicKey: signer.publicKey, issuer: ISS, audience: AUD }
          : { algorithms: [algorithm], secret: SECRET, issuer: ISS, audience: AUD },
      )
      const token = signer.sign({ sub: 'user-42', perms: ['orders:read'] })
      const ctx = await auth.verify(token)
      expect(ctx).toMatchObject({ sub: 'user-42', permissions: ['orders:read'] })
      expect(ctx.claims).toMatchObject({ iss: ISS, aud: AUD, jti: expect.any(String) })
      expect((ctx.claims.exp as number) - (ctx.claims.iat as number)).toBe(900)
    },
  )

  it('issues standard compact JWTs by default, however long', () => {
    const signer = createSigner({ algorithm: 'ES256' })
    const perms = Array.from({ length: 80 }, (_, i) => `orders:item-${i}:read`)
    const long = signer.sign({ sub: 'u', perms })
    expect(long.length).toBeGreaterThan(1024)
    expect(long.split('.')).toHaveLength(3)
    expect(long.startsWith('compressed:')).toBe(false)
  })

  it('with compressAboveBytes, compresses only long tokens, and only when that is shorter', async () => {
    const signer = createSigner({
      algorithm: 'ES256',
      issuer: ISS,
      audience: AUD,
      compressAboveBytes: 1024,
    })
    const auth = createAuth({ publicKey: signer.publicKey!, issuer: ISS, audience: AUD })
    const short = signer.sign({ sub: 'u', perms: ['a'] })
    expect(short.startsWith('compressed:')).toBe(false)
    const perms = Array.from({ length: 80 }, (_, i) => `orders:item-${i}:read`)
    const long = signer.sign({ sub: 'u', perms })
    expect(long.startsWith('compressed:')).toBe(true)
    expect((await auth.verify(long)).permissions).toEqual(perms)
    // a short token gains nothing from DEFLATE (tables and the prefix cost more): it stays plain
    const eager = createSigner({ algorithm: 'EdDSA', compressAboveBytes: 1 })
    const plain = eager.sign({ sub: 'u' })
    expect(plain.startsWith('compressed:')).toBe(false)
    expect(plain.length).toBeGreaterThan(1)
  })

  it('exports a JWK Set whose kid is in the token header', () => {
    const signer = createSigner({ algorithm: 'ES256' })
    const { keys } = signer.exportJwks()
    expect(keys).toHaveLength(1)
    expect(keys[0]).toMatchObject({
      kty: 'EC',
      crv: 'P-256',
      use: 'sig',
      alg: 'ES256',
      kid: signer.keyId,
    })
    expect(keys[0]).not.toHaveProperty('d')
    const header = JSON.parse(
      Buffer.from(signer.sign({ sub: 'u' }).split('.')[0]!, 'base64url').toString(),
    )
    expect(header).toEqual({ alg: 'ES256', typ: 'JWT', kid: signer.keyId })
  })

  it('refuses keys that do not fit', () => {
    expect(() => createSigner({ algorithm: 'HS256', secret: 'short' })).toThrow(/at least 32 bytes/)
    expect(() => createSigner({ algorithm: 'RS256', secret: SECRET })).toThrow(TypeError)
    expect(() => createSigner({ algorithm: 'none' as Algorithm })).toThrow(/not supported/)
  })
})
