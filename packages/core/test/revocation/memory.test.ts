import { describe, expect, it } from 'vitest'
import {
  type AuthError,
  createAuth,
  createMemoryRevocationList,
  createSigner,
  type RevocationList,
} from '../../src/index.js'

const ISS = 'https://issuer.example'
const AUD = 'orders-api'

function setup(revocation?: RevocationList) {
  let now = 1_800_000_000_000
  const clock = () => now
  const signer = createSigner({
    algorithm: 'ES256',
    issuer: ISS,
    audience: AUD,
    clock,
    compressAboveBytes: false,
  })
  const auth = createAuth({
    publicKey: signer.publicKey!,
    issuer: ISS,
    audience: AUD,
    clock,
    ...(revocation ? { revocation } : {}),
  })
  const advance = (ms: number) => {
    now += ms
  }
  return { signer, auth, advance, clock }
}

const codeOf = (p: Promise<unknown>) =>
  p.then(
    () => 'ok',
    (e: AuthError) => e.code,
  )

describe('revocation', () => {
  it('revoking a token rejects it, even when its verification is cached', async () => {
    const { signer, auth } = setup()
    const token = signer.sign({ sub: 'u1' })
    await auth.verify(token) // cached
    await auth.revoke({ token })
    expect(await codeOf(auth.verify(token))).toBe('token_revoked')
    expect(await codeOf(auth.verify(signer.sign({ sub: 'u1' })))).toBe('ok')
  })

  it('revocation by token works with the cache turned off too', async () => {
    let now = 1_800_000_000_000
    const signer = createSigner({
      algorithm: 'ES256',
      issuer: ISS,
      audience: AUD,
      clock: () => now,
    })
    const auth = createAuth({
      publicKey: signer.publicKey!,
      issuer: ISS,
      audience: AUD,
      clock: () => now,
      cache: false,
    })
    const token = signer.sign({ sub: 'u1' })
    expect(await codeOf(auth.verify(token))).toBe('ok')
    await auth.revoke({ token })
    expect(await codeOf(auth.verify(token))).toBe('token_revoked')
    now += 1000
    expect(await codeOf(auth.verify(signer.sign({ sub: 'u1' })))).toBe('ok')
  })

  it('re-encoded variants of a revoked token are rejected too', async () => {
    const { signer, auth } = setup()
    const token = signer.sign({ sub: 'u1', perms: Array.from({ length: 50 }, (_, i) => `p${i}`) })
    const { deflateRawSync } = await import('node:zlib')
    const compressed = `compressed:${deflateRawSync(token).toString('base64url')}`
    expect(await codeOf(auth.verify(compressed))).toBe('ok')
    // revoke the whitespace-mangled form someone pasted from a log
    await auth.revoke({ token: `${token.slice(0, 20)}\n ${token.slice(20)}` })
    expect(await codeOf(auth.verify(token))).toBe('token_revoked')
    expect(await codeOf(auth.verify(compressed))).toBe('token_revoked')
  })

  it('revoking a jti rejects every token carrying it', async () => {
    const { signer, auth } = setup()
    const token = signer.sign({ sub: 'u1', jti: 'fixed-jti' })
    expect(await codeOf(auth.verify(token))).toBe('ok')
    await auth.revoke({ jti: 'fixed-jti' })
    expect(await codeOf(auth.verify(token))).toBe('token_revoked')
  })

  it('"log out everywhere" rejects tokens issued up to `before`, not later ones', async () => {
    const { signer, auth, advance } = setup()
    const old = signer.sign({ sub: 'u1' })
    const other = signer.sign({ sub: 'u2' })
    await auth.revoke({ sub: 'u1' })
    expect(await codeOf(auth.verify(old))).toBe('token_revoked')
    expect(await codeOf(auth.verify(other))).toBe('ok')
    advance(1000)
    expect(await codeOf(auth.verify(signer.sign({ sub: 'u1' })))).toBe('ok')
  })

  it('fails closed when the revocation list cannot answer', async () => {
    const broken: RevocationList = {
      isRevoked: () => Promise.reject(new Error('redis down')),
      revoke: async () => {},
    }
    const { signer, auth } = setup(broken)
    const err = await auth.verify(signer.sign({ sub: 'u1' })).catch((e: AuthError) => e)
    expect(err).toMatchObject({ code: 'auth_unavailable', status: 503 })
    const throwing: RevocationList = {
      isRevoked: () => {
        throw new Error('bug')
      },
      revoke: async () => {},
    }
    const second = setup(throwing)
    expect(await codeOf(second.auth.verify(second.signer.sign({ sub: 'u1' })))).toBe(
      'auth_unavailable',
    )
  })

  it('rejects malformed revoke calls', async () => {
    const { auth } = setup()
    await expect(auth.revoke({} as never)).rejects.toThrow(TypeError)
    await expect(auth.revoke({ jti: '' })).rejects.toThrow(TypeError)
    await expect(auth.revoke({ token: 'not a token' })).rejects.toMatchObject({
      code: 'token_invalid',
    })
  })
})

describe('createMemoryRevocationList', () => {
  it('forgets entries once the tokens they cover have expired, and never drops a live one', async () => {
    let now = 1_000_000_000
    const list = createMemoryRevocationList({ max: 3, clock: () => now })
    const subject = (tokenHash: string) => ({ tokenHash, jti: undefined, sub: 's', iat: 1 })
    for (const h of ['a', 'b', 'c'])
      await list.revoke({ kind: 'token', tokenHash: h, expiresAt: now / 1000 + 10 })
    expect(list.isRevoked(subject('a'))).toBe(true)
    now += 11_000
    await list.revoke({ kind: 'token', tokenHash: 'd', expiresAt: now / 1000 + 10 })
    expect(list.size).toBe(1) // a, b, c expired and were swept
    expect(list.isRevoked(subject('d'))).toBe(true)
    for (const h of ['e', 'f'])
      await list.revoke({ kind: 'token', tokenHash: h, expiresAt: now / 1000 + 10 })
    // full of live revocations: the new one is refused, no live one is dropped to make room
    await expect(
      list.revoke({ kind: 'token', tokenHash: 'g', expiresAt: now / 1000 + 10 }),
    ).rejects.toThrow(RangeError)
    expect(list.size).toBe(3)
    for (const h of ['d', 'e', 'f']) expect(list.isRevoked(subject(h))).toBe(true)
    expect(list.isRevoked(subject('g'))).toBe(false)
  })
})
