import {
  demoBanner,
  listenOrExit,
  logSlowAuthentications,
  onSignal,
  startDemo,
} from '@authframework/example-shared'
import { createAuth, type NestRequest } from '@authframework/nestjs'
import { buildApp } from './app.js'

const { demo, close } = await startDemo()
// A node:diagnostics_channel subscriber, as an APM or OpenTelemetry would attach one: prints the
// outcome and duration of failed authentications and of those slower than 25 ms (never a token).
const stopLogging = logSlowAuthentications(25)
const auth = createAuth<NestRequest>(demo.authOptions)
const app = await buildApp({
  auth,
  jwks: demo.signer.exportJwks(),
  login: demo.login,
  metrics: demo.metrics,
})
const release = async () => {
  stopLogging()
  await app.close()
  await auth.close()
  await close() // the permission store, the revocation list, Redis and PostgreSQL, when in use
}
const port = Number(process.env.PORT ?? 3000)
// a port already in use is one clear line and exit code 1, not a stack trace
await listenOrExit(() => app.listen(port, '127.0.0.1'), port, release)
console.log(demoBanner(demo, `http://127.0.0.1:${port}`, 'NestJS'))
onSignal(release)
