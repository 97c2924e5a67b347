import type { AddressInfo } from 'node:net'
import { exampleSuite, portTakenTest } from '@authframework/example-shared/suite'
import { serve } from '@hono/node-server'
import { buildApp } from '../src/app.js'

exampleSuite('hono', async (demo) => {
  const app = buildApp({
    auth: demo.authOptions,
    jwks: demo.signer.exportJwks(),
    login: demo.login,
    metrics: demo.metrics,
  })
  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s))
  })
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((resolve) => server.close(resolve)),
  }
})

portTakenTest(new URL('../src/index.ts', import.meta.url))
