/**
 * Introspection through an Express app (issue 8), on loopback: requests per second, p50/p95/p99,
 * and how many introspection calls reached the authorization server against requests served, for
 *   - cold: every request a new opaque token (core cache, memory and Redis all miss);
 *   - cold burst: each new token sent by `concurrency` clients at once (single flight);
 *   - warm in memory: 100 tokens the instance has seen (its caches answer);
 *   - warm in Redis only: a second instance (another process, empty memory) gets the tokens the
 *     first one introspected in "cold"; Redis answers.
 * Logic from the former test/oidc/measure.ts. Each round starts fresh processes (the endpoint and
 * two app instances, see child.ts) and a fresh Redis key prefix; the two warm scenarios swap order
 * every round. Bounded: `requests` per scenario and a 30 s cap each.
 */
import { type ChildProcess, fork } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { Agent, request } from 'node:http'
import { connectRedis, deleteKeys, NOT_RUN, REDIS_URL, runId } from '../services.js'
import { quantileSorted } from '../stats.js'
import type { Message, Role } from './child.js'

const SCENARIO_CAP_MS = 30_000

export const INTROSPECTION_SCENARIOS = [
  { id: 'cold', title: 'cold (a new token on every request)' },
  { id: 'burst', title: 'cold burst (each new token sent by all clients at once)' },
  { id: 'memory', title: 'warm in memory (100 tokens, same instance)' },
  { id: 'redis', title: 'warm in Redis only (second instance, each token once)' },
] as const

export type IntrospectionScenario = (typeof INTROSPECTION_SCENARIOS)[number]['id']

export interface IntrospectionOptions {
  readonly entry: URL
  readonly rounds: number
  readonly requests: number
  readonly concurrency: number
  readonly warmupRequests: number
  readonly asLatencyMs: number
  readonly log: (line: string) => void
}

export interface IntrospectionSample {
  readonly round: number
  readonly scenario: IntrospectionScenario
  readonly requests: number
  readonly non200: number
  readonly seconds: number
  readonly reqPerSec: number
  /** Milliseconds, client side. */
  readonly p50: number
  readonly p95: number
  readonly p99: number
  /** Introspection calls that reached the endpoint during the scenario. */
  readonly calls: number
}

export interface IntrospectionResult {
  readonly options: Omit<IntrospectionOptions, 'entry' | 'log'>
  readonly samples: readonly IntrospectionSample[]
  /** The introspector's own counters per round and instance. */
  readonly stats: readonly { round: number; a: Record<string, number>; b: Record<string, number> }[]
  readonly notRun?: string
  readonly failures: readonly string[]
}

function spawn(entry: URL, role: Role): Promise<{ child: ChildProcess; port: number }> {
  const child = fork(entry, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill()
      reject(new Error(`${role.role} did not start within 30 s`))
    }, 30_000)
    child.once('error', reject)
    child.once('exit', (code) => reject(new Error(`${role.role} exited with ${code}`)))
    child.on('message', (m: Message) => {
      if (m.type === 'ready') {
        clearTimeout(timer)
        resolve({ child, port: m.port })
      } else if (m.type === 'failed') {
        clearTimeout(timer)
        reject(new Error(m.reason))
      }
    })
    child.send(role)
  })
}

function ask<T extends Message['type']>(
  child: ChildProcess,
  type: T,
): Promise<Extract<Message, { type: T }>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${type} answer`)), 10_000)
    const listener = (m: Message) => {
      if (m.type !== type) return
      clearTimeout(timer)
      child.off('message', listener)
      resolve(m as Extract<Message, { type: T }>)
    }
    child.on('message', listener)
    child.send({ type })
  })
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((done) => {
    if (child.exitCode !== null) return done()
    child.once('exit', () => done())
    child.send({ type: 'exit' }, () => {})
    setTimeout(() => child.kill(), 3000).unref()
  })
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
      const status = await one(tokens[i] as string)
      latencies[done++] = performance.now() - t0
      if (status === 200) ok++
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  const seconds = (performance.now() - started) / 1000
  agent.destroy()
  return { requests: done, ok, seconds, sorted: latencies.slice(0, done).sort() }
}

/** Runs the introspection benchmark; "not run" (not a crash) when Redis is unreachable. */
export async function runIntrospection(opts: IntrospectionOptions): Promise<IntrospectionResult> {
  const { entry, log, ...options } = opts
  const samples: IntrospectionSample[] = []
  const stats: IntrospectionResult['stats'][number][] = []
  const failures: string[] = []
  let redis: Awaited<ReturnType<typeof connectRedis>>
  try {
    redis = await connectRedis()
  } catch (error) {
    const reason = `${NOT_RUN}: ${error instanceof Error ? error.message : String(error)}`
    log(`  ${reason}`)
    return { options, samples, stats, notRun: reason, failures }
  }
  const n = opts.requests
  const c = opts.concurrency
  try {
    for (let round = 0; round < opts.rounds; round++) {
      log(`  round ${round + 1}/${opts.rounds}`)
      const run = runId()
      const keyPrefix = `af_bench_introspect_${run}:`
      const children: ChildProcess[] = []
      try {
        const as = await spawn(entry, { role: 'as', latencyMs: opts.asLatencyMs })
        children.push(as.child)
        const endpoint = `http://127.0.0.1:${as.port}/introspect`
        const appRole: Role = { role: 'app', endpoint, redisUrl: REDIS_URL, keyPrefix }
        const [a, b] = await Promise.all([spawn(entry, appRole), spawn(entry, appRole)])
        children.push(a.child, b.child)
        const calls = async () => (await ask(as.child, 'calls')).calls
        // Warm-up of the code paths of both instances (not reported), on tokens of its own.
        const warm = Array.from({ length: opts.warmupRequests }, (_, i) => `warmup-${run}-${i}`)
        await load(a.port, warm, c)
        await load(b.port, warm, c)
        await load(a.port, warm, c)
        const measure = async (scenario: IntrospectionScenario, port: number, tokens: string[]) => {
          const before = await calls()
          const r = await load(port, tokens, c)
          const reached = (await calls()) - before
          const sample: IntrospectionSample = {
            round,
            scenario,
            requests: r.requests,
            non200: r.requests - r.ok,
            seconds: r.seconds,
            reqPerSec: r.requests / r.seconds,
            p50: quantileSorted(r.sorted, 0.5),
            p95: quantileSorted(r.sorted, 0.95),
            p99: quantileSorted(r.sorted, 0.99),
            calls: reached,
          }
          samples.push(sample)
          if (sample.non200) failures.push(`introspection ${scenario}: ${sample.non200} non-200`)
          log(
            `    ${scenario.padEnd(7)} ${sample.reqPerSec.toFixed(0).padStart(6)} req/s  p50 ${sample.p50.toFixed(2)} p95 ${sample.p95.toFixed(2)} p99 ${sample.p99.toFixed(2)} ms  ${reached} calls / ${r.requests} requests`,
          )
        }
        const cold = Array.from(
          { length: n },
          (_, i) => `cold-${run}-${i}-${randomBytes(16).toString('base64url')}`,
        )
        await measure('cold', a.port, cold)
        const burst = Array.from({ length: Math.ceil(n / c) }, (_, i) =>
          Array<string>(c).fill(`burst-${run}-${i}-${randomBytes(16).toString('base64url')}`),
        ).flat()
        await measure('burst', a.port, burst)
        const hot = cold.slice(0, 100)
        const warmMemory = () =>
          measure(
            'memory',
            a.port,
            Array.from({ length: n }, (_, i) => hot[i % hot.length] as string),
          )
        const warmRedis = () => measure('redis', b.port, cold)
        if (round % 2 === 0) {
          await warmMemory()
          await warmRedis()
        } else {
          await warmRedis()
          await warmMemory()
        }
        stats.push({
          round,
          a: (await ask(a.child, 'stats')).stats,
          b: (await ask(b.child, 'stats')).stats,
        })
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error)
        failures.push(`introspection round ${round + 1}: ${reason}`)
        log(`    failed: ${reason}`)
      } finally {
        await Promise.all(children.map(stop))
        await deleteKeys(redis, keyPrefix).catch(() => {})
      }
    }
  } finally {
    redis.disconnect()
  }
  return { options, samples, stats, failures }
}
