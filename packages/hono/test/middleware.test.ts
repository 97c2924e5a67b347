/**
 * What the contract table does not cover: errors through `app.onError`, and the Fetch request
 * path (`app.request()`, as on runtimes without Node's request), where no `c.env.incoming` exists.
 */
import { certificateThumbprint } from '@authframework/core'
import { AuthError, authMiddleware, createSigner, requirePermission } from '@authframework/hono'
import { Hono } from 'hono'
import { HTTPException } from 'hono/http-exception'
import { describe, expect, it } from 'vitest'

const secret = 'a-test-secret-of-at-least-32-bytes!'
const signer = createSigner({ algorithm: 'HS256', secret, issuer: 'https://issuer.example' })
const options = { algorithms: ['HS256' as const], secret, issuer: 'https://issuer.example' }
const reader = signer.sign({ sub: 'user-1', perms: ['orders:read'] })
const codeOf = async (res: Response) => ((await res.json()) as { code: string }).code
const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

function build(extra: Record<string, unknown> = {}) {
  const app = new Hono()
  app.use(authMiddleware({ ...options, unless: ['/health'], ...extra }))
  app.get('/health', (c) => c.json({ auth: c.get('auth') ?? null }))
  app.get('/orders', requirePermission('orders:read'), (c) => c.json({ sub: c.get('auth')?.sub }))
  app.get('/admin', requirePermission('admin'), (c) => c.json({ sub: c.get('auth')?.sub }))
  return app
}

describe('the Fetch request (app.request)', () => {
  const app = build()

  it('authenticates, guards and answers like on Node', async () => {
    expect(await (await app.request('/orders', { headers: bearer(reader) })).json()).toEqual({
      sub: 'user-1',
    })
    const anonymous = await app.request('/orders')
    expect(anonymous.status).toBe(401)
    expect(anonymous.headers.get('www-authenticate')).toBe('Bearer realm="api"')
    expect(anonymous.headers.get('content-type')).toBe('application/problem+json')
    const denied = await app.request('/admin', { headers: bearer(reader) })
    expect(denied.status).toBe(403)
    expect(await codeOf(denied)).toBe('permission_denied')
    expect((await app.request('/health', { headers: bearer('junk') })).status).toBe(200)
  })

  it('sees repeated Authorization headers joined into one value: still a 400', async () => {
    const headers = new Headers()
    headers.append('authorization', `Bearer ${reader}`)
    headers.append('authorization', `Bearer ${reader}`)
    const res = await app.request('/orders', { headers })
    expect(res.status).toBe(400)
    expect(await codeOf(res)).toBe('invalid_request')
    expect(res.headers.get('www-authenticate')).toMatch(/error="invalid_request"/)
  })
})

describe('certificate-bound tokens on the Fetch request (RFC 8705)', () => {
  // the shape of a DER certificate is all the header path checks before hashing
  const der = Buffer.from([0x30, 0x03, 0x02, 0x01, 0x01])
  const bound = signer.sign({
    sub: 'svc',
    perms: ['orders:read'],
    cnf: { 'x5t#S256': certificateThumbprint(der) },
  })
  const clientCert = `:${der.toString('base64')}:`

  it('has no connection to ask: refused without the proxy header option', async () => {
    const res = await build().request('/orders', {
      headers: { ...bearer(bound), 'client-cert': clientCert },
    })
    expect(res.status).toBe(401)
    expect(res.headers.get('www-authenticate')).toBe(
      'Bearer realm="api", error="invalid_token", error_description="The token is bound to a client certificate and the request presented none."',
    )
  })

  it('reads the certificate from the header the mtls option names', async () => {
    const app = build({ mtls: { certificateHeader: 'client-cert' } })
    const res = await app.request('/orders', {
      headers: { ...bearer(bound), 'client-cert': clientCert },
    })
    expect(await res.json()).toEqual({ sub: 'svc' })
    const other = await app.request('/orders', {
      headers: { ...bearer(bound), 'client-cert': ':MAA=:' },
    })
    expect(other.status).toBe(401)
    expect(await codeOf(other)).toBe('token_invalid')
  })
})

describe("errors: 'propagate'", () => {
  it('throws an HTTPException whose cause is the AuthError, for app.onError', async () => {
    const app = build({ errors: 'propagate' })
    const seen: unknown[] = []
    app.onError((error, c) => {
      seen.push(error instanceof HTTPException ? error.cause : error)
      return error instanceof HTTPException ? error.getResponse() : c.text('no', 500)
    })
    const res = await app.request('/orders', { headers: bearer('not-a-jwt') })
    expect(res.status).toBe(401)
    expect(res.headers.get('www-authenticate')).toMatch(/error="invalid_token"/)
    expect(seen).toEqual([expect.any(AuthError)])
    expect((seen[0] as AuthError).code).toBe('token_invalid')
  })

  it('answers the problem even without an onError of the application', async () => {
    const res = await build({ errors: 'propagate' }).request('/admin', { headers: bearer(reader) })
    expect(res.status).toBe(403)
    expect(res.headers.get('www-authenticate')).toMatch(/error="insufficient_scope"/)
    expect(await codeOf(res)).toBe('permission_denied')
  })
})
