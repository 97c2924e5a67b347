/**
 * One server instance for the multi-instance test, run as its own Node process
 * (`fork(..., { execArgv: ['--import', 'tsx'] })`): an Express app with the middleware and the
 * distributed revocation list on the shared Redis and PostgreSQL.
 *
 * - `GET /me`: 200 `{ sub }` for a valid token.
 * - `POST /logout`: revokes the caller's own token (`auth.revoke({ token })`); answers
 *   `{ revokedAt }`, when `revoke` was called (`performance.timeOrigin + performance.now()`).
 *
 * Configuration comes in `AF_INSTANCE` (JSON); the port goes back over IPC as `{ port }`. The
 * process stops on the `'stop'` message, or when the parent goes away.
 */
import { createRevocationList } from '@authframework/core'
import { authMiddleware, createAuth } from '@authframework/express'
import express from 'express'
import { connectServices, instanceConfig, listen } from './child.js'

export interface InstanceConfig {
  readonly name: string
  readonly databaseUrl: string
  readonly schema: string
  readonly redisUrl: string
  readonly keyPrefix: string
  readonly publicKeyPem: string
  readonly issuer: string
  readonly audience: string
}

const config = instanceConfig('test/support/instance.ts')
const { pool, redis } = connectServices(config, 4)

const revocation = createRevocationList({ redis, pool, keyPrefix: config.keyPrefix })
await revocation.ready()
const auth = createAuth<express.Request>({
  algorithms: ['ES256'],
  publicKey: config.publicKeyPem,
  issuer: config.issuer,
  audience: config.audience,
  revocation,
})

const app = express()
app.use(authMiddleware(auth))
app.get('/me', (req, res) => {
  res.json({ sub: req.auth?.sub, instance: config.name })
})
app.post('/logout', (req, res, next) => {
  const token = (req.headers.authorization ?? '').replace(/^Bearer /, '')
  // When the revocation was issued, on a clock every process of the machine shares (ms).
  const revokedAt = performance.timeOrigin + performance.now()
  auth.revoke({ token }).then(() => res.json({ revokedAt }), next)
})

const server = listen(app)

let stopping = false
async function stop(): Promise<void> {
  if (stopping) return
  stopping = true
  server.closeAllConnections()
  server.close()
  await auth.close()
  redis.disconnect()
  await pool.end()
  process.exit(0)
}
process.on('message', (message) => {
  if (message === 'stop') void stop()
})
process.on('disconnect', () => void stop())
