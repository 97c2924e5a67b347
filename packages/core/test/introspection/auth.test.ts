/** `createAuth({ introspection: { endpoint, ... } })`: the plain options form, through the core. */

import {
  activeAnswer,
  type Behaviour,
  type IntrospectionCall,
  startIntrospectionServer,
} from '@authframework/test-support/introspection-server'
import { afterEach, describe, expect, it } from 'vitest'
import { type AuthError, createAuth, createSigner } from '../../src/index.js'
import { createIntrospector } from '../../src/introspection/index.js'

const ISS = 'https://as.example'
const AUD = 'orders-api'
const NOW = 1_800_000_000

const cleanup: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn()
})

async function setup(answer: (call: IntrospectionCall) => Behaviour) {
  const server = await startIntrospectionServer(answer)
  const time = { ms: NOW * 1000 }
  const signer = createSigner({
    algorithm: 'ES256',
    issuer: ISS,
    audience: AUD,
    clock: () => time.ms,
  })
  const auth = createAuth({
    publicKey: signer.publicKey!,
    issuer: ISS,
    audience: AUD,
    permissionsClaim: 'scope',
    clock: () => time.ms,
    introspection: { endpoint: server.url, clientId: 'orders-api', clientSecret: 'secret' },
  })
  cleanup.push(
    () => server.close(),
    () => auth.close(),
  )
  return { server, auth, signer, time }
}

async function failure(promise: Promise<unknown> | unknown) {
  const error = (await Promise.resolve(promise).then(
    () => undefined,
    (e: AuthError) => e,
  )) as AuthError
  expect(error).toBeDefined()
  return { status: error.status, code: error.code, headers: error.headers }
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

describe('createAuth with introspection options', () => {
  it('introspects opaque tokens and verifies JWTs locally (mixed mode)', async () => {
    const { server, auth, signer } = await setup(() => ({ json: activeAnswer(NOW, 60) }))
    const ctx = await auth.authenticate(bearer('opaque-abc'))
    expect(ctx).toMatchObject({ sub: 'svc-1', permissions: ['orders:read'], expiresAt: NOW + 60 })
    await auth.authenticate(bearer('opaque-abc'))
    expect(server.calls).toHaveLength(1)
    await auth.authenticate(bearer(signer.sign({ sub: 'u1' })))
    expect(server.calls).toHaveLength(1)
  })

  it('active:false is 401 invalid_token', async () => {
    const { auth } = await setup(() => ({ json: { active: false } }))
    expect(await failure(auth.authenticate(bearer('opaque')))).toEqual({
      status: 401,
      code: 'token_invalid',
      headers: {
        'www-authenticate': expect.stringMatching(/^Bearer realm="api", error="invalid_token"/),
      },
    })
  })

  it('an answer for another audience or issuer is 401; an expired one is token_expired', async () => {
    const other = await setup(() => ({ json: activeAnswer(NOW, 60, { aud: 'billing-api' }) }))
    expect(await failure(other.auth.authenticate(bearer('t')))).toMatchObject({
      status: 401,
      code: 'token_invalid',
    })
    const iss = await setup(() => ({ json: activeAnswer(NOW, 60, { iss: 'https://evil' }) }))
    expect(await failure(iss.auth.authenticate(bearer('t')))).toMatchObject({
      code: 'token_invalid',
    })
    const expired = await setup(() => ({ json: activeAnswer(NOW, -5) }))
    expect(await failure(expired.auth.authenticate(bearer('t')))).toMatchObject({
      status: 401,
      code: 'token_expired',
    })
  })

  it('the endpoint failing is 503 auth_unavailable with Retry-After, never an allow', async () => {
    const { auth, server } = await setup(() => ({ raw: 'not json' }))
    expect(await failure(auth.authenticate(bearer('t')))).toEqual({
      status: 503,
      code: 'auth_unavailable',
      headers: { 'retry-after': '1' },
    })
    server.answer(() => ({ json: {}, status: 500 }))
    expect(await failure(auth.authenticate(bearer('t2')))).toMatchObject({ status: 503 })
  })

  it('uses the instance clock for the cache TTL', async () => {
    const { auth, server, time } = await setup(() => ({ json: activeAnswer(NOW, 30) }))
    await auth.authenticate(bearer('t'))
    time.ms += 31_000
    server.answer(() => ({ json: { active: false } }))
    expect(await failure(auth.authenticate(bearer('t')))).toMatchObject({ code: 'token_invalid' })
  })

  it('refuses bad introspection options at construction', () => {
    const base = { algorithms: ['ES256'] as const, audience: AUD }
    expect(() =>
      createAuth({
        ...base,
        jwksUri: 'https://as.example/jwks',
        introspection: { endpoint: 'http://as.example/i', clientId: 'a', clientSecret: 'b' },
      }),
    ).toThrow(/introspection\.endpoint/)
    expect(() =>
      createAuth({
        ...base,
        jwksUri: 'https://as.example/jwks',
        introspection: { nope: true } as never,
      }),
    ).toThrow(/introspection/)
  })

  it('still takes a TokenIntrospector, such as createIntrospector’s', async () => {
    const server = await startIntrospectionServer(() => ({ json: activeAnswer(NOW, 60) }))
    const introspector = createIntrospector({
      endpoint: server.url,
      clientId: 'a',
      clientSecret: 'b',
      clock: () => NOW * 1000,
    })
    const signer = createSigner({ algorithm: 'ES256', issuer: ISS, audience: AUD })
    const auth = createAuth({
      publicKey: signer.publicKey!,
      issuer: ISS,
      audience: AUD,
      clock: () => NOW * 1000,
      introspection: introspector,
    })
    cleanup.push(
      () => server.close(),
      () => auth.close(),
    )
    await expect(auth.verify('opaque')).resolves.toMatchObject({ sub: 'svc-1' })
  })
})
