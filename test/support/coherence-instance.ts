/**
 * One server process of the coherence test (`fork(..., { execArgv: ['--import', 'tsx'] })`): an
 * Express app whose permissions come from the store (memory → Redis → PostgreSQL) and whose
 * revocations go through the distributed list, both following the change log, on its own Redis
 * URL (the parent puts a TCP proxy in front of some instances).
 *
 * - `GET /orders/write`: needs `orders:write` (from the user's roles in PostgreSQL).
 * - `POST /logout`: revokes the caller's own token.
 *
 * Configuration comes in `AF_INSTANCE` (JSON); the port goes back over IPC as `{ port }`. On the
 * `'stop'` message it shuts down through `shutdown()` and reports how long that took.
 */
import {
  createChangeLog,
  createPermissionStore,
  createRevocationList,
  memoryLayer,
  postgresSource,
  redisLayer,
  shutdown,
} from '@authframework/core'
import { authMiddleware, createAuth, requirePermission } from '@authframework/express'
import express from 'express'
import { connectServices, instanceConfig, listen } from './child.js'

const config = instanceConfig('test/support/coherence-instance.ts')
const { pool, redis } = connectServices(config, 6)

const changes = createChangeLog({ pool })
const store = createPermissionStore({
  layers: [
    memoryLayer({ ttlSeconds: 300 }),
    redisLayer({ client: redis, keyPrefix: config.keyPrefix, timeoutMs: 150 }),
  ],
  source: postgresSource({ pool }),
  changes,
  onError: () => {},
})
const revocation = createRevocationList({
  redis,
  pool,
  keyPrefix: config.keyPrefix,
  changes,
  syncIntervalMs: false, // what arrives, arrives through pub/sub or the change log
  onError: () => {},
})
await Promise.all([changes.ready(), store.ready(), revocation.ready()])
const auth = createAuth<express.Request>({
  algorithms: ['ES256'],
  publicKey: config.publicKeyPem,
  issuer: config.issuer,
  audience: config.audience,
  permissions: { store, merge: 'store' },
  revocation,
})

const app = express()
app.use(authMiddleware(auth))
app.get('/orders/write', requirePermission('orders:write'), (_req, res) => {
  res.json({ instance: config.name })
})
app.post('/logout', (req, res) => {
  const token = (req.headers.authorization ?? '').replace(/^Bearer /, '')
  // recorded in PostgreSQL even when this instance's Redis cannot be told
  auth.revoke({ token }).then(
    () => res.json({ published: true }),
    () => res.json({ published: false }),
  )
})

const server = listen(app)

process.on('message', async (message) => {
  if (message !== 'stop') return
  server.closeAllConnections()
  server.close()
  const start = performance.now()
  const report = await shutdown([auth, store, revocation, changes, redis, pool])
  process.send!({ stoppedInMs: performance.now() - start, clean: report.clean })
  // no process.exit: once the parent lets go of the IPC channel, the process ends by itself when
  // nothing is left open (the parent checks it)
})
