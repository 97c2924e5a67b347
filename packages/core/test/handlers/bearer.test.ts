import { deflateRawSync } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { createBearerHandler, isJwtShaped } from '../../src/handlers/bearer.js'
import type { BearerCredential, CredentialHandler } from '../../src/handlers/handler.js'
import { COMPRESSED_PREFIX } from '../../src/token/compressed.js'
import { isPromise } from '../../src/util.js'
import { authErrorOf } from '../helpers.js'
import { fakeJwt, fakeVerifier, INPUT, tokenSteps } from './fixtures.js'

const header = (token: string): BearerCredential => ({ kind: 'bearer', token, source: 'header' })
const cookie = (token: string): BearerCredential => ({ kind: 'bearer', token, source: 'cookie' })

function setup(options: { opaque?: CredentialHandler<BearerCredential>; cache?: boolean } = {}) {
  const fixture = tokenSteps({ cache: options.cache })
  const verifyJws = fakeVerifier()
  const seen = { lookups: [] as boolean[], verified: [] as unknown[] }
  const bearer = createBearerHandler({
    maxTokenBytes: 4096,
    maxCompressedBytes: 16_384,
    cache: fixture.cache,
    verifyJws,
    steps: fixture.steps,
    opaque: options.opaque,
    observe: {
      cacheLookup: (hit) => seen.lookups.push(hit),
      verified: (alg, _ms, sub) => seen.verified.push({ alg, sub }),
    },
  })
  return { bearer, verifyJws, seen, ...fixture }
}

/** An opaque-token handler that records what it is handed. */
function recordingOpaque() {
  const calls: BearerCredential[] = []
  const opaque: CredentialHandler<BearerCredential> = {
    authenticate: async (credential) => {
      calls.push(credential)
      return { sub: 'opaque-user', claims: {}, permissions: [] }
    },
  }
  return { opaque, calls }
}

describe('the bearer handler', () => {
  it('verifies a JWT synchronously and returns its context', () => {
    const { bearer, seen } = setup()
    const context = bearer.authenticate(header(fakeJwt({ perms: ['orders:read'] })), INPUT)
    expect(isPromise(context)).toBe(false)
    expect(context).toMatchObject({ sub: 'user-1', permissions: ['orders:read'] })
    expect(seen).toEqual({ lookups: [false], verified: [{ alg: 'RS256', sub: 'user-1' }] })
  })

  it('answers a repeated token from the cache, without verifying it again', () => {
    const { bearer, verifyJws, seen } = setup()
    const token = fakeJwt()
    const first = bearer.authenticate(header(token), INPUT)
    const second = bearer.authenticate(header(token), INPUT)
    expect(second).toBe(first)
    expect(verifyJws.calls).toBe(1)
    expect(seen.lookups).toEqual([false, true])
  })

  it('verifies every time with the cache off', () => {
    const { bearer, verifyJws, seen } = setup({ cache: false })
    const token = fakeJwt()
    bearer.authenticate(header(token), INPUT)
    bearer.authenticate(header(token), INPUT)
    expect(verifyJws.calls).toBe(2)
    expect(seen.lookups).toEqual([])
  })

  it('refuses a token over maxTokenBytes before any work', async () => {
    const { bearer, verifyJws, seen } = setup()
    const error = await authErrorOf(() => bearer.authenticate(header('a'.repeat(4097)), INPUT))
    expect(error).toMatchObject({ code: 'token_invalid', status: 401 })
    expect(error.message).toBe('The token is longer than 4096 bytes.')
    expect(verifyJws.calls).toBe(0)
    expect(seen.lookups).toEqual([])
  })

  it('refuses a bad signature and caches nothing', async () => {
    const { bearer, cache } = setup()
    const error = await authErrorOf(() => bearer.authenticate(header(fakeJwt({}, 'bad')), INPUT))
    expect(error.code).toBe('token_invalid')
    expect(cache?.size).toBe(0)
  })

  it('tells a malformed header (400) from a malformed token elsewhere (401)', async () => {
    const { bearer } = setup()
    const odd = `${fakeJwt()}!`
    expect(await authErrorOf(() => bearer.authenticate(header(odd), INPUT))).toMatchObject({
      code: 'invalid_request',
      status: 400,
    })
    expect(await authErrorOf(() => bearer.authenticate(cookie(odd), INPUT))).toMatchObject({
      code: 'token_invalid',
      status: 401,
    })
  })

  it('decodes compressed: tokens, bounded, and caches them under their own key', () => {
    const { bearer, verifyJws, cache } = setup()
    const jwt = fakeJwt({ sub: 'user-2' })
    const compressed = COMPRESSED_PREFIX + deflateRawSync(jwt).toString('base64url')
    expect(bearer.canonical(compressed)).toBe(jwt)
    expect(bearer.canonical(jwt)).toBe(jwt)
    expect(bearer.authenticate(header(compressed), INPUT)).toMatchObject({ sub: 'user-2' })
    expect(bearer.authenticate(header(jwt), INPUT)).toMatchObject({ sub: 'user-2' })
    expect(verifyJws.calls).toBe(2)
    expect(cache?.size).toBe(2)
  })

  it('hands opaque tokens to the opaque handler after the alphabet check, JWTs never', async () => {
    const { opaque, calls } = recordingOpaque()
    const { bearer } = setup({ opaque })
    await expect(bearer.authenticate(header('opaque-token'), INPUT)).resolves.toMatchObject({
      sub: 'opaque-user',
    })
    expect(calls).toEqual([header('opaque-token')])
    expect(
      await authErrorOf(() => bearer.authenticate(header('opaque,token'), INPUT)),
    ).toMatchObject({ code: 'invalid_request' })
    bearer.authenticate(header(fakeJwt()), INPUT)
    expect(calls).toHaveLength(1)
  })

  it('verifies a token given directly (auth.verify) like one from a cookie', async () => {
    const { opaque, calls } = recordingOpaque()
    const { bearer } = setup({ opaque })
    expect(bearer.verify(fakeJwt())).toMatchObject({ sub: 'user-1' })
    expect((await authErrorOf(() => bearer.verify(`${fakeJwt()}!`))).status).toBe(401)
    await bearer.verify('opaque-token')
    expect(calls).toEqual([{ kind: 'bearer', token: 'opaque-token', source: 'verify' }])
  })

  it('refuses an opaque token without an opaque handler', async () => {
    const { bearer } = setup()
    expect((await authErrorOf(() => bearer.authenticate(header('opaque'), INPUT))).code).toBe(
      'token_invalid',
    )
  })

  it('checks revocation on every request, cached or not', async () => {
    const { bearer, revocation } = setup()
    const token = fakeJwt({ jti: 'j-1' })
    bearer.authenticate(header(token), INPUT)
    await revocation.revoke({ kind: 'jti', jti: 'j-1', expiresAt: Number.MAX_SAFE_INTEGER })
    expect(await authErrorOf(() => bearer.authenticate(header(token), INPUT))).toMatchObject({
      code: 'token_revoked',
      status: 401,
    })
  })
})

describe('isJwtShaped', () => {
  it.each([
    ['a.b.c', true],
    ['compressed:abc', true],
    ['a.b', false],
    ['a.b.c.d', false],
    ['opaque', false],
  ])('%s: %s', (token, shaped) => {
    expect(isJwtShaped(token)).toBe(shaped)
  })
})

describe('the bearer handler and sender-constrained tokens', () => {
  it('refuses a bound token sent as Bearer, from the cache as well as on its first use', async () => {
    const { bearer, verifyJws } = setup()
    const token = fakeJwt({ cnf: { jkt: 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs' } })
    for (let i = 0; i < 2; i++) {
      const error = await authErrorOf(() => bearer.authenticate(header(token), INPUT))
      expect(error.code).toBe('token_invalid')
      expect(error.message).toBe('The token is bound to a DPoP key and needs a DPoP proof.')
    }
    // the signature was checked once: the binding is checked on every request, the cache or not
    expect(verifyJws.calls).toBe(1)
  })
})
