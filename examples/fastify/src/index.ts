import { demoBanner, startDemo } from '@authframework/example-shared'
import { createAuth } from '@authframework/fastify'
import type { FastifyRequest } from 'fastify'
import { buildApp } from './app.js'

const { demo, close } = await startDemo()
const auth = createAuth<FastifyRequest>(demo.authOptions)
const app = await buildApp({ auth: { auth }, jwks: demo.signer.exportJwks(), login: demo.login })
app.addHook('onClose', close)
const port = Number(process.env.PORT ?? 3000)
await app.listen({ port, host: '127.0.0.1' })
console.log(demoBanner(demo, `http://127.0.0.1:${port}`, 'Fastify'))
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void app.close())
