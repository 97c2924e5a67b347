/**
 * HTTP on sockets: per framework and round, one server child per variant (started together; idle
 * ones cost nothing), then each variant in an order that rotates from round to round, loaded by
 * autocannon from this process. The server reports its own CPU time over the measured window.
 */
import { type ChildProcess, fork } from 'node:child_process'
import { roundOrder } from '../stats.js'
import { type LoadResult, load } from './load.js'
import {
  type AppConfig,
  type Command,
  type Event,
  FRAMEWORK_NAME,
  type Framework,
  rotates,
  type VariantId,
  variantLabel,
} from './variants.js'

export interface HttpOptions {
  readonly serverEntry: URL
  readonly frameworks: readonly Framework[]
  readonly variants: readonly VariantId[]
  readonly rounds: number
  readonly durationS: number
  readonly warmupS: number
  readonly connections: number
  readonly publicKeyPem: string
  /** (a): the one token; (e): the rotated pool. */
  readonly one: string
  readonly pool: readonly string[]
  readonly store?: AppConfig['store']
  readonly log: (line: string) => void
}

export interface HttpSample {
  readonly round: number
  readonly framework: Framework
  readonly variant: VariantId
  readonly load: LoadResult
  /** Server CPU µs per request in the measured window (user + system, all threads). */
  readonly cpuUs: number
  readonly rssBytes: number
}

export interface HttpResult {
  readonly rounds: number
  readonly durationS: number
  readonly warmupS: number
  readonly connections: number
  readonly poolSize: number
  readonly samples: readonly HttpSample[]
  readonly failures: readonly string[]
}

interface Server {
  readonly port: number
  request(command: Command): Promise<Event>
  close(): Promise<void>
}

function startServer(entry: URL, cfg: AppConfig): Promise<Server> {
  const name = `${cfg.framework}-${cfg.variant}`
  const child: ChildProcess = fork(entry, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  let pending: ((event: Event) => void) | undefined
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill()
      reject(new Error(`${name} did not start within 30 s`))
    }, 30_000)
    child.on('message', (event: Event) => {
      if (event.evt === 'ready') {
        clearTimeout(timer)
        resolve({
          port: event.port,
          request: (command) =>
            new Promise((done, fail) => {
              pending = done
              child.send(command, (error) => error && fail(error))
            }),
          close: () =>
            new Promise((done) => {
              if (child.exitCode !== null) return done()
              child.once('exit', () => done())
              child.send({ cmd: 'exit' })
              setTimeout(() => child.kill(), 5000).unref()
            }),
        })
      } else if (event.evt === 'failed') {
        clearTimeout(timer)
        reject(new Error(event.reason))
      } else {
        const done = pending
        pending = undefined
        done?.(event)
      }
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`${name} exited with code ${code} (its stderr is above)`))
    })
    child.send(cfg)
  })
}

/** Runs every variant of every framework, `rounds` times. */
export async function runHttp(opts: HttpOptions): Promise<HttpResult> {
  const samples: HttpSample[] = []
  const failures: string[] = []
  const one = `Bearer ${opts.one}`
  const pool = opts.pool.map((t) => `Bearer ${t}`)
  const settings = { connections: opts.connections, durationS: opts.durationS }
  for (const framework of opts.frameworks) {
    for (let round = 0; round < opts.rounds; round++) {
      opts.log(`  ${FRAMEWORK_NAME[framework]}, round ${round + 1}/${opts.rounds}`)
      const servers = new Map<VariantId, Server>()
      const started = await Promise.allSettled(
        opts.variants.map(async (variant) => {
          const cfg = { framework, variant, publicKeyPem: opts.publicKeyPem, store: opts.store }
          servers.set(variant, await startServer(opts.serverEntry, cfg))
        }),
      )
      started.forEach((outcome, i) => {
        if (outcome.status === 'fulfilled') return
        const failure = `http ${framework}/${opts.variants[i]}: ${(outcome.reason as Error).message}`
        failures.push(failure)
        opts.log(`    ${failure}`)
      })
      try {
        for (const variant of roundOrder(
          opts.variants.filter((v) => servers.has(v)),
          round,
        )) {
          const server = servers.get(variant) as Server
          const url = `http://127.0.0.1:${server.port}/`
          let i = 0
          const next = rotates(variant) ? () => pool[i++ % pool.length] : () => one
          // warm-up: a fixed time, or one full walk of the pool so every cache layer is filled
          const warm = rotates(variant)
            ? { ...settings, amount: pool.length }
            : { ...settings, durationS: opts.warmupS }
          await load(url, warm, next, false)
          await server.request({ cmd: 'start' })
          const result = await load(url, settings, next)
          const stopped = await server.request({ cmd: 'stop' })
          if (stopped.evt !== 'stopped') throw new Error('server did not report its CPU time')
          const cpuUs = stopped.cpuUs / Math.max(1, stopped.requests)
          samples.push({
            round,
            framework,
            variant,
            load: result,
            cpuUs,
            rssBytes: stopped.rssBytes,
          })
          if (result.non2xx || result.errors)
            failures.push(
              `http ${framework}/${variant}: ${result.non2xx} non-2xx, ${result.errors} errors`,
            )
          opts.log(
            `    ${variantLabel(framework, variant).padEnd(42)} ${result.reqPerSec.toFixed(0).padStart(6)} req/s  p99 ${result.p99.toFixed(2)} ms  ${cpuUs.toFixed(1)} µs CPU/req`,
          )
        }
      } finally {
        await Promise.all([...servers.values()].map((s) => s.close()))
      }
    }
  }
  const { rounds, durationS, warmupS, connections } = opts
  return { rounds, durationS, warmupS, connections, poolSize: pool.length, samples, failures }
}
