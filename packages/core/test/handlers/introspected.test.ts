import { selfSignedCertificate } from '@authframework/test-support/certificates'
import { describe, expect, it } from 'vitest'
import type { BearerCredential } from '../../src/handlers/handler.js'
import { createIntrospectedHandler } from '../../src/handlers/introspected.js'
import type { TokenIntrospector } from '../../src/types.js'
import { AUDIENCE, authErrorOf, ISSUER, NOW_S } from '../helpers.js'
import { INPUT, tokenSteps } from './fixtures.js'

const credential = (token: string): BearerCredential => ({
  kind: 'bearer',
  token,
  source: 'header',
})
const ACTIVE = { sub: 'svc-1', iss: ISSUER, aud: AUDIENCE, exp: NOW_S + 60, scope: 'orders:read' }

function setup(introspect: TokenIntrospector['introspect']) {
  const asked: string[] = []
  const fixture = tokenSteps()
  const handler = createIntrospectedHandler({
    introspector: {
      introspect: (token) => {
        asked.push(token)
        return introspect(token)
      },
    },
    steps: fixture.steps,
  })
  return { handler, asked, ...fixture }
}

describe('the introspected-token handler', () => {
  it('turns an active answer into a context, through the claim checks', async () => {
    const { handler, asked, cache } = setup(async () => ({ ...ACTIVE, perms: ['orders:read'] }))
    await expect(handler.authenticate(credential('opaque-1'), INPUT)).resolves.toMatchObject({
      sub: 'svc-1',
      permissions: ['orders:read'],
      expiresAt: NOW_S + 60,
    })
    expect(asked).toEqual(['opaque-1'])
    expect(cache?.size).toBe(0) // the introspector's own cache decides reuse
  })

  it('refuses an inactive token (401) and a wrong audience (401)', async () => {
    const inactive = setup(async () => null)
    expect(
      await authErrorOf(() => inactive.handler.authenticate(credential('t'), INPUT)),
    ).toMatchObject({ code: 'token_invalid', message: 'The token is not active.' })
    const elsewhere = setup(async () => ({ ...ACTIVE, aud: 'other-api' }))
    expect(
      (await authErrorOf(() => elsewhere.handler.authenticate(credential('t'), INPUT))).code,
    ).toBe('token_invalid')
  })

  it('checks a binding the answer carries against the request (RFC 8705 section 3.2)', async () => {
    const client = selfSignedCertificate('introspected-client')
    const other = selfSignedCertificate('introspected-other')
    const bound = setup(async () => ({ ...ACTIVE, cnf: { 'x5t#S256': client.thumbprint } }))
    const over = (der: Buffer) => ({ ...INPUT, clientCertificate: der })
    await expect(
      bound.handler.authenticate(credential('t'), over(client.der)),
    ).resolves.toMatchObject({ sub: 'svc-1' })
    expect(
      await authErrorOf(() => bound.handler.authenticate(credential('t'), over(other.der))),
    ).toMatchObject({
      code: 'token_invalid',
      message: 'The client certificate is not the certificate the token is bound to.',
    })
    expect(
      (await authErrorOf(() => bound.handler.authenticate(credential('t'), INPUT))).message,
    ).toBe('The token is bound to a client certificate and the request presented none.')
  })

  it('fails closed with 503 when the server cannot answer or answers nonsense', async () => {
    const down = setup(async () => {
      throw new Error('ECONNREFUSED')
    })
    expect(
      await authErrorOf(() => down.handler.authenticate(credential('t'), INPUT)),
    ).toMatchObject({
      code: 'auth_unavailable',
      status: 503,
      dependency: 'introspection',
    })
    const odd = setup(async () => 'yes' as never)
    expect(await authErrorOf(() => odd.handler.authenticate(credential('t'), INPUT))).toMatchObject(
      {
        code: 'auth_unavailable',
        dependency: 'introspection',
      },
    )
  })

  it('checks revocation by the hash of the token', async () => {
    const { handler, revocation } = setup(async () => ({ ...ACTIVE }))
    const { createHash } = await import('node:crypto')
    const tokenHash = createHash('sha256').update('opaque-2').digest('base64url')
    await revocation.revoke({ kind: 'token', tokenHash, expiresAt: NOW_S + 60 })
    expect(
      (await authErrorOf(() => handler.authenticate(credential('opaque-2'), INPUT))).code,
    ).toBe('token_revoked')
    await expect(handler.authenticate(credential('opaque-3'), INPUT)).resolves.toBeDefined()
  })
})
