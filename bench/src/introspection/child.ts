/**
 * Child processes of the introspection benchmark (moved here from test/oidc/measure.ts), bundled
 * to plain JavaScript with ours compiled in (src/build.ts). The first IPC message picks the role:
 *   - `as`: the authorization server's introspection endpoint on 127.0.0.1 (every token active for
 *     300 s); counts the calls that reach it;
 *   - `app`: one Express instance with `createIntrospector` (memory and Redis caches) and
 *     `authMiddleware`, on 127.0.0.1; reports the introspector's stats.
 * Each exits when the parent says so, when the IPC channel closes, or after 10 minutes.
 */
import { generateKeyPairSync } from 'node:crypto'
import { once } from 'node:events'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createAuth, createIntrospector } from '@authframework/core'
import { authMiddleware } from '@authframework/express'
import express from 'express'
import { Redis } from 'ioredis'

export const ISSUER = 'https://as.example'
export const AUDIENCE = 'orders-api'
const MAX_LIFETIME_MS = 10 * 60 * 1000

export type Role =
  | { readonly role: 'as'; readonly latencyMs: number }
  | {
      readonly role: 'app'
      readonly endpoint: string
      readonly redisUrl: string
      readonly keyPrefix: string
    }

export type Message =
  | { type: 'ready'; port: number }
  | { type: 'failed'; reason: string }
  | { type: 'calls'; calls: number }
  | { type: 'stats'; stats: Record<string, number> }

function send(message: Message): void {
  process.send?.(message)
}

function lifecycle(server: Server, cleanup: () => void = () => {}): void {
  const exit = () => {
    cleanup()
    server.close()
    server.closeAllConnections()
    setTimeout(() => process.exit(0), 200).unref()
  }
  process.on('message', (m: { type: string }) => {
    if (m.type === 'exit') exit()
  })
  process.on('disconnect', exit)
  setTimeout(() => process.exit(0), MAX_LIFETIME_MS).unref()
}

/** The authorization server's introspection endpoint: every token is active for 300 s. */
async function runAuthorizationServer(latencyMs: number): Promise<void> {
  let calls = 0
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      calls++
      const token = new URLSearchParams(Buffer.concat(chunks).toString()).get('token')
      const now = Math.floor(Date.now() / 1000)
      const body = JSON.stringify({
        active: token !== null,
        sub: 'svc-1',
        client_id: 'svc-1',
        iss: ISSUER,
        aud: AUDIENCE,
        scope: 'orders:read',
        iat: now,
        exp: now + 300,
        token_type: 'Bearer',
      })
      const answer = () => {
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end(body)
      }
      if (latencyMs > 0) setTimeout(answer, latencyMs)
      else answer()
    })
  })
  server.keepAliveTimeout = 60_000
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  process.on('message', (m: { type: string }) => {
    if (m.type === 'calls') send({ type: 'calls', calls })
  })
  lifecycle(server)
  send({ type: 'ready', port: (server.address() as AddressInfo).port })
}

/** One Express instance with introspection, memory and Redis caches. */
async function runApp(endpoint: string, redisUrl: string, keyPrefix: string): Promise<void> {
  const redis = new Redis(redisUrl, {
    enableOfflineQueue: false,
    commandTimeout: 200,
    maxRetriesPerRequest: 1,
    lazyConnect: true,
  })
  redis.on('error', () => {})
  await redis.connect()
  const introspector = createIntrospector({
    endpoint,
    clientId: 'orders-api',
    clientSecret: 'measure-secret',
    cache: { maxTtlSeconds: 300, memory: { max: 50_000 }, redis: { client: redis, keyPrefix } },
  })
  await introspector.ready()
  // opaque tokens only; the key is there because createAuth needs one for JWTs
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const auth = createAuth({
    publicKey,
    issuer: ISSUER,
    audience: AUDIENCE,
    permissionsClaim: 'scope',
    cache: { max: 50_000, maxTtlSeconds: 300 },
    introspection: introspector,
  })
  const app = express()
  app.use(authMiddleware(auth as never))
  app.get('/orders', (req, res) => {
    res.json({ sub: (req as { auth?: { sub?: string } }).auth?.sub })
  })
  const server = createServer({ keepAliveTimeout: 60_000 }, app)
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  process.on('message', (m: { type: string }) => {
    if (m.type === 'stats') send({ type: 'stats', stats: { ...introspector.stats } })
  })
  lifecycle(server, () => redis.disconnect())
  send({ type: 'ready', port: (server.address() as AddressInfo).port })
}

process.once('message', (cfg: Role) => {
  const started =
    cfg.role === 'as'
      ? runAuthorizationServer(cfg.latencyMs)
      : runApp(cfg.endpoint, cfg.redisUrl, cfg.keyPrefix)
  started.catch((error: unknown) => {
    send({ type: 'failed', reason: error instanceof Error ? error.message : String(error) })
    setTimeout(() => process.exit(1), 100)
  })
})
