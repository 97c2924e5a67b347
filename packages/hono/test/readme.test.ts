/** The README's app, as written there (its key aside), answers as the README says on Node. */
import type { AddressInfo } from 'node:net'
import {
  anyOf,
  authMiddleware,
  createSigner,
  requireAuthentication,
  requirePermission,
} from '@authframework/hono'
import { serve } from '@hono/node-server'
import { Hono } from 'hono'
import { afterAll, beforeAll, expect, it } from 'vitest'

const signer = createSigner({ algorithm: 'RS256', issuer: 'https://issuer.example' })

const app = new Hono()
app.use(
  authMiddleware({
    algorithms: ['RS256'],
    publicKey: signer.publicKey!,
    issuer: 'https://issuer.example',
    audience: 'orders-api',
    unless: ['/health'],
    optional: ['/catalog'],
  }),
)
app.get('/health', (c) => c.json({ status: 'ok' }))
app.get('/orders', requirePermission('orders:read'), (c) => c.json({ sub: c.get('auth')?.sub }))
app.get(
  '/users/:id/orders',
  requirePermission(anyOf('admin', (auth, c) => auth.sub === c.req.param('id'))),
  (c) => c.json({ user: c.req.param('id') }),
)
app.post(
  '/payments',
  // step-up (RFC 9470): 401 insufficient_user_authentication, acr_values="mfa", until the user
  // signs in with a second factor; checked before the permission
  requireAuthentication({ acrValues: ['mfa'] }),
  requirePermission('payments:write'),
  (c) => c.json({ paid: true }),
)
app.get('/catalog', (c) => c.json({ personalised: c.get('auth') !== undefined }))

let server: ReturnType<typeof serve>
let url: string
beforeAll(async () => {
  await new Promise<void>((resolve) => {
    server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve())
  })
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(() => new Promise((resolve) => server.close(resolve)))

const get = (path: string, sub?: string, perms: string[] = []) =>
  fetch(`${url}${path}`, {
    headers: sub
      ? { authorization: `Bearer ${signer.sign({ sub, aud: 'orders-api', perms })}` }
      : {},
  })

it('answers as documented', async () => {
  expect((await get('/health')).status).toBe(200)
  expect(await (await get('/catalog')).json()).toEqual({ personalised: false })
  const anonymous = await get('/orders')
  expect(anonymous.status).toBe(401)
  expect(anonymous.headers.get('www-authenticate')).toBe('Bearer realm="api"')
  expect((await get('/orders', 'u1')).status).toBe(403)
  expect(await (await get('/orders', 'u1', ['orders:read'])).json()).toEqual({ sub: 'u1' })
  expect((await get('/users/u1/orders', 'u1')).status).toBe(200)
  expect((await get('/users/u2/orders', 'u1')).status).toBe(403)
  const pay = (claims: Record<string, unknown>) =>
    fetch(`${url}/payments`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${signer.sign({ sub: 'u1', aud: 'orders-api', ...claims })}`,
      },
    })
  const weak = await pay({ acr: 'pwd', perms: ['payments:write'] })
  expect(weak.status).toBe(401)
  expect(weak.headers.get('www-authenticate')).toBe(
    'Bearer realm="api", error="insufficient_user_authentication", error_description="A different authentication level is required.", acr_values="mfa"',
  )
  expect((await pay({ acr: 'mfa' })).status).toBe(403)
  expect(await (await pay({ acr: 'mfa', perms: ['payments:write'] })).json()).toEqual({
    paid: true,
  })
})
