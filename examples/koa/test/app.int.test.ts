import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { exampleSuite, portTakenTest } from '@authframework/example-shared/suite'
import { buildApp } from '../src/app.js'

exampleSuite('koa', async (demo) => {
  const app = buildApp({
    auth: demo.authOptions,
    jwks: demo.signer.exportJwks(),
    login: demo.login,
    metrics: demo.metrics,
  })
  const server = app.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((resolve) => server.close(resolve)),
  }
})

portTakenTest(new URL('../src/index.ts', import.meta.url))
