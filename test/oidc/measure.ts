/**
 * Introspection through an Express app, measured on loopback: requests per second, p50/p95/p99,
 * and how many introspection calls reached the authorization server, for
 *   - cold: every request a new opaque token (core cache, memory and Redis all miss);
 *   - warm in memory: tokens the instance has seen (its verification cache answers);
 *   - cold burst: each new token sent by `--concurrency` clients at once (single flight);
 *   - warm in Redis only: a second instance (another process, empty memory) gets the tokens that
 *     the first one introspected; Redis answers.
 *
 * Three processes: this one (load generator), the authorization server's introspection endpoint,
 * and each Express instance. Bounded: `--requests` per scenario (default 5000) and a 30 s cap each.
 *
 *   pnpm exec tsx test/oidc/measure.ts [--requests 5000] [--concurrency 32] [--as-latency-ms 0]
 *
 * Needs Redis (REDIS_URL, default redis://127.0.0.1:6379). Lives in the test package because the
 * Express adapter and express resolve from here.
 */
import { type ChildProcess, fork } from 'node:child_process'
import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { Agent, createServer, request } from 'node:http'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
// not yet re-exported by the core entry
import { createAuth, createIntrospector } from '@authframework/core'
import { authMiddleware } from '@authframework/express'
import express from 'express'
import { Redis } from 'ioredis'

const ISSUER = 'https://as.example'
const AUDIENCE = 'orders-api'
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const SCENARIO_CAP_MS = 30_000

type Message =
  | { type: 'ready'; port: number }
  | { type: 'calls'; calls: number }
  | { type: 'stats'; stats: Record<string, number> }

function send(message: Message): void {
  process.send?.(message)
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
  send({ type: 'ready', port: (server.address() as AddressInfo).port })
}

/** One Express instance with introspection, memory and Redis caches. */
async function runApp(endpoint: string, keyPrefix: string): Promise<void> {
  const redis = new Redis(REDIS_URL, {
    enableOfflineQueue: false,
    commandTimeout: 200,
    maxRetriesPerRequest: 1,
    lazyConnect: true,
  })
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
    res.json({ sub: req.auth?.sub })
  })
  const server = createServer({ keepAliveTimeout: 60_000 }, app)
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  process.on('message', (m: { type: string }) => {
    if (m.type === 'stats') send({ type: 'stats', stats: { ...introspector.stats } })
  })
  send({ type: 'ready', port: (server.address() as AddressInfo).port })
}

// ---------------------------------------------------------------------------------------------

function spawn(args: string[]): Promise<{ child: ChildProcess; port: number }> {
  const child = fork(fileURLToPath(import.meta.url), args, {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  return new Promise((resolve, reject) => {
    child.once('error', reject)
    child.once('exit', (code) => reject(new Error(`${args[0]} exited with ${code}`)))
    child.on('message', (m: Message) => {
      if (m.type === 'ready') resolve({ child, port: m.port })
    })
  })
}

function ask<T extends Message['type']>(
  child: ChildProcess,
  type: T,
): Promise<Extract<Message, { type: T }>> {
  return new Promise((resolve) => {
    const listener = (m: Message) => {
      if (m.type !== type) return
      child.off('message', listener)
      resolve(m as Extract<Message, { type: T }>)
    }
    child.on('message', listener)
    child.send({ type })
  })
}

interface Result {
  readonly requests: number
  readonly ok: number
  readonly seconds: number
  readonly latenciesMs: Float64Array
}

/** Sends one request per token (in order) with `concurrency` in flight; stops at the time cap. */
async function load(port: number, tokens: readonly string[], concurrency: number) {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency })
  const latencies = new Float64Array(tokens.length)
  let next = 0
  let ok = 0
  let done = 0
  const started = performance.now()
  const one = (token: string) =>
    new Promise<number>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port,
          path: '/orders',
          agent,
          headers: { authorization: `Bearer ${token}` },
        },
        (res) => {
          res.resume()
          res.on('end', () => resolve(res.statusCode ?? 0))
        },
      )
      req.on('error', reject)
      req.end()
    })
  async function worker(): Promise<void> {
    while (next < tokens.length && performance.now() - started < SCENARIO_CAP_MS) {
      const i = next++
      const t0 = performance.now()
      const status = await one(tokens[i]!)
      latencies[done++] = performance.now() - t0
      if (status === 200) ok++
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  const seconds = (performance.now() - started) / 1000
  agent.destroy()
  return { requests: done, ok, seconds, latenciesMs: latencies.slice(0, done).sort() } as Result
}

function percentile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      requests: { type: 'string', default: '5000' },
      concurrency: { type: 'string', default: '32' },
      'as-latency-ms': { type: 'string', default: '0' },
    },
  })
  const n = Number(values.requests)
  const concurrency = Number(values.concurrency)
  const latency = Number(values['as-latency-ms'])
  const run = randomBytes(4).toString('hex')
  const keyPrefix = `af_measure_${run}:`
  const children: ChildProcess[] = []
  try {
    const as = await spawn(['as', String(latency)])
    children.push(as.child)
    const endpoint = `http://127.0.0.1:${as.port}/introspect`
    const a = await spawn(['app', endpoint, keyPrefix])
    children.push(a.child)
    const calls = async () => (await ask(as.child, 'calls')).calls

    // warm-up of the code paths (not reported), on tokens of its own
    const warm = Array.from({ length: 1_000 }, (_, i) => `warmup-${run}-${i}`)
    await load(a.port, warm, concurrency)
    await load(a.port, warm, concurrency)

    const rows: Array<Record<string, string | number>> = []
    const measure = async (name: string, port: number, tokens: string[]) => {
      const before = await calls()
      const r = await load(port, tokens, concurrency)
      const reached = (await calls()) - before
      rows.push({
        scenario: name,
        requests: r.requests,
        'non-200': r.requests - r.ok,
        'req/s': Math.round(r.requests / r.seconds),
        'p50 ms': percentile(r.latenciesMs, 0.5).toFixed(2),
        'p95 ms': percentile(r.latenciesMs, 0.95).toFixed(2),
        'p99 ms': percentile(r.latenciesMs, 0.99).toFixed(2),
        'introspection calls': reached,
        'calls / request': (reached / r.requests).toFixed(3),
      })
    }

    const cold = Array.from(
      { length: n },
      (_, i) => `cold-${run}-${i}-${randomBytes(16).toString('base64url')}`,
    )
    await measure('cold (new token each request)', a.port, cold)
    const hot = cold.slice(0, 100)
    await measure(
      'warm in memory (100 tokens, same instance)',
      a.port,
      Array.from({ length: n }, (_, i) => hot[i % hot.length]!),
    )
    // single flight: each new token arrives `concurrency` times at once
    const burst = Array.from({ length: Math.ceil(n / concurrency) }, (_, i) =>
      Array<string>(concurrency).fill(`burst-${run}-${i}-${randomBytes(16).toString('base64url')}`),
    ).flat()
    await measure(`cold burst (each new token ${concurrency}x at once)`, a.port, burst)
    const b = await spawn(['app', endpoint, keyPrefix])
    children.push(b.child)
    await load(b.port, warm, concurrency) // same warm-up for the second process
    await measure('warm in Redis only (second instance, each token once)', b.port, cold)
    const statsA = (await ask(a.child, 'stats')).stats
    const statsB = (await ask(b.child, 'stats')).stats

    console.log(
      `\nnode ${process.version}, ${n} requests per scenario, concurrency ${concurrency}, ` +
        `authorization server latency ${latency} ms, loopback\n`,
    )
    console.table(rows)
    console.log('introspector stats, instance A:', statsA)
    console.log('introspector stats, instance B:', statsB)
  } finally {
    for (const child of children) child.kill()
    const redis = new Redis(REDIS_URL, { lazyConnect: true })
    await redis.connect()
    let cursor = '0'
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${keyPrefix}*`, 'COUNT', 1000)
      if (keys.length > 0) await redis.del(...keys)
      cursor = next
    } while (cursor !== '0')
    redis.disconnect()
  }
}

const [role, ...rest] = process.argv.slice(2)
if (role === 'as') await runAuthorizationServer(Number(rest[0] ?? 0))
else if (role === 'app') await runApp(rest[0]!, rest[1]!)
else await main()
