import { demoBanner, startDemo } from '@authframework/example-shared'
import { createAuth } from '@authframework/express'
import type { Request } from 'express'
import { buildApp } from './app.js'

const { demo, close } = await startDemo()
const auth = createAuth<Request>(demo.authOptions)
const app = buildApp({ auth, jwks: demo.signer.exportJwks(), login: demo.login })
const port = Number(process.env.PORT ?? 3000)
const server = app.listen(port, '127.0.0.1', () => {
  console.log(demoBanner(demo, `http://127.0.0.1:${port}`, 'Express'))
})
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => server.close(() => void close()))
}
