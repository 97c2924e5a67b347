import { once } from 'node:events'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createDemo } from '@authframework/example-shared'
import { run, scenarios } from '@authframework/example-shared/scenarios'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildApp } from '../src/app.js'

const demo = createDemo()
let url = ''
let server: Server
beforeAll(async () => {
  server = buildApp({ auth: demo.authOptions, jwks: demo.signer.exportJwks() }).listen(
    0,
    '127.0.0.1',
  )
  await once(server, 'listening')
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))

describe('examples/express', () => {
  it.each(scenarios(demo))('$name → $status', async (s) => {
    const res = await run(url, s)
    expect(res.status).toBe(s.status)
    if (s.status === 401) expect(res.www).toMatch(/^Bearer realm="api"/)
    if (s.status === 403) expect(res.www).toContain('error="insufficient_scope"')
  })

  it('serves the key that verifies its tokens', async () => {
    const res = await fetch(`${url}/.well-known/jwks.json`)
    expect(await res.json()).toEqual(demo.signer.exportJwks())
  })
})
