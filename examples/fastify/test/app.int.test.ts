import { exampleSuite, portTakenTest } from '@authframework/example-shared/suite'
import { buildApp } from '../src/app.js'

exampleSuite('fastify', async (demo) => {
  const app = await buildApp({
    auth: demo.authOptions,
    jwks: demo.signer.exportJwks(),
    login: demo.login,
    metrics: demo.metrics,
  })
  return { url: await app.listen({ port: 0, host: '127.0.0.1' }), close: () => app.close() }
})

portTakenTest(new URL('../src/index.ts', import.meta.url))
