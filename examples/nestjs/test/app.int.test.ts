import type { AddressInfo } from 'node:net'
import { exampleSuite, portTakenTest } from '@authframework/example-shared/suite'
import { buildApp } from '../src/app.js'

exampleSuite('nestjs', async (demo) => {
  const app = await buildApp({
    auth: demo.authOptions,
    jwks: demo.signer.exportJwks(),
    login: demo.login,
    metrics: demo.metrics,
  })
  await app.listen(0, '127.0.0.1')
  return {
    url: `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`,
    close: () => app.close(),
  }
})

portTakenTest(new URL('../src/index.ts', import.meta.url))
