import { createDemo } from '@authframework/example-shared'
import { run, scenarios } from '@authframework/example-shared/scenarios'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildApp } from '../src/app.js'

const demo = createDemo()
let app: FastifyInstance
let url = ''
beforeAll(async () => {
  app = await buildApp({ auth: demo.authOptions, jwks: demo.signer.exportJwks() })
  url = await app.listen({ port: 0, host: '127.0.0.1' })
})
afterAll(() => app.close())

describe('examples/fastify', () => {
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
