/**
 * One server process for the PostgreSQL recovery test (test/pg-recovery.int.test.ts): Express with the
 * middleware, permissions read from PostgreSQL on every request (no cache), through the library's
 * pool and query runner with their defaults, the pool connected through the parent's TCP proxy.
 *
 * - `GET /me`: 200 `{ sub }` when the permission lookup answered, 503 `auth_unavailable` when not.
 * - `GET /pool`: the runner's stats (pool counts, breaker), unauthenticated.
 *
 * Configuration comes in `AF_PG_INSTANCE` (JSON); the port goes back over IPC as `{ port }`. The
 * process stops on the `'stop'` message (it answers `{ ended: ms }`, how long `pool.end()` took).
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createPostgresPool, createPostgresRunner, postgresSource } from '@authframework/core'
import { authMiddleware, createAuth } from '@authframework/express'
import express from 'express'

export interface PgInstanceConfig {
  readonly name: string
  readonly databaseUrl: string
  readonly schema: string
  readonly secret: string
  readonly max: number
}

const config = JSON.parse(process.env.AF_PG_INSTANCE ?? 'null') as PgInstanceConfig | null
if (config === null || typeof process.send !== 'function') {
  throw new Error('test/support/pg-instance.ts runs as a forked child with AF_PG_INSTANCE set.')
}

const pool = createPostgresPool({
  connectionString: config.databaseUrl,
  max: config.max,
  min: 0,
  options: `-c search_path=${config.schema}`,
})
const runner = createPostgresRunner(pool) // the defaults
const auth = createAuth<express.Request>({
  algorithms: ['HS256'],
  secret: config.secret,
  audience: 'api',
  permissions: { store: postgresSource({ pool }) },
})

const app = express()
app.get('/pool', (_req, res) => {
  res.json(runner.stats())
})
app.use(authMiddleware(auth))
app.get('/me', (req, res) => {
  res.json({ sub: req.auth?.sub, instance: config.name })
})

const server = createServer({ keepAliveTimeout: 10_000 }, app)
server.listen(0, '127.0.0.1', () => {
  process.send!({ port: (server.address() as AddressInfo).port })
})

process.on('message', async (message) => {
  if (message !== 'stop') return
  server.closeAllConnections()
  server.close()
  await auth.close()
  const start = performance.now()
  await pool.end()
  process.send!({ ended: performance.now() - start }, () => process.exit(0))
})
process.on('disconnect', () => process.exit(0))
