import {
  demoBanner,
  listenOrExit,
  listenServer,
  logSlowAuthentications,
  onSignal,
  startDemo,
} from '@authframework/example-shared'
import { createAuth } from '@authframework/hono'
import { createAdaptorServer } from '@hono/node-server'
import type { Context } from 'hono'
import { buildApp } from './app.js'

const { demo, close } = await startDemo()
// A node:diagnostics_channel subscriber, as an APM or OpenTelemetry would attach one: prints the
// outcome and duration of failed authentications and of those slower than 25 ms (never a token).
const stopLogging = logSlowAuthentications(25)
const auth = createAuth<Context>(demo.authOptions)
const app = buildApp({
  auth,
  jwks: demo.signer.exportJwks(),
  login: demo.login,
  metrics: demo.metrics,
})
const port = Number(process.env.PORT ?? 3000)
const server = createAdaptorServer({ fetch: app.fetch })
const release = async () => {
  stopLogging()
  await auth.close()
  await close() // the permission store, the revocation list, Redis and PostgreSQL, when in use
}
// a port already in use is one clear line and exit code 1, not a banner
await listenOrExit(listenServer(server as never, port), port, release)
console.log(demoBanner(demo, `http://127.0.0.1:${port}`, 'Hono'))

onSignal(async () => {
  await new Promise((resolve) => server.close(resolve))
  await release()
})
