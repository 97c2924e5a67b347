/**
 * HTTP benchmark: for each framework and round, one server child per variant (all started
 * together, idle ones cost nothing), then every scenario runs every variant in an order that
 * alternates from round to round. autocannon runs here, in the parent process.
 */
import { type ChildProcess, fork } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { roundOrder } from '../stats.js'
import { type LoadResult, load } from './load.js'
import {
  type Command,
  type Event,
  FRAMEWORK_NAME,
  type Framework,
  type Scenario,
  type ScenarioId,
  type ServerConfig,
  type StoreConfig,
  type VariantId,
  variantLabel,
} from './variants.js'

export interface HttpOptions {
  /** The bundled server entry (src/build.ts). */
  readonly serverEntry: URL
  readonly frameworks: readonly Framework[]
  readonly scenarios: readonly Scenario[]
  readonly rounds: number
  readonly durationS: number
  readonly warmupS: number
  readonly connections: number
  /** Scenario (e): the scratch schema and key prefix the store variants use. */
  readonly store?: StoreConfig
  /** Write V8 CPU profiles of the "ours" servers to this folder. */
  readonly profileDir?: string
  readonly log: (line: string) => void
}

export interface HttpTokens {
  readonly publicKeyPem: string
  /** (a): the one token; (d) its compressed form. */
  readonly one: string
  readonly compressed: string
  /** (b): the rotated pool. */
  readonly rotate: readonly string[]
  /** (c): the fresh pool; each server walks it from the start. */
  readonly fresh: readonly string[]
}

export interface HttpSample {
  readonly round: number
  readonly framework: Framework
  readonly scenario: ScenarioId
  readonly variant: VariantId
  readonly load: LoadResult
  /** Server CPU µs per request in the measured window (user + system, all threads). */
  readonly cpuUsPerReq: number
  readonly serverRequests: number
  readonly rssBytes: number
  readonly heapUsedBytes: number
  /** (c) only: requests in the measured window whose token had been sent before to this server. */
  readonly reusedTokens?: number
}

export interface HttpResult {
  readonly options: Omit<HttpOptions, 'log' | 'scenarios' | 'serverEntry'> & {
    readonly scenarios: readonly ScenarioId[]
  }
  readonly samples: readonly HttpSample[]
  readonly skipped: readonly { framework: Framework; variant: VariantId; reason: string }[]
  readonly poolSizes: { readonly rotate: number; readonly fresh: number }
  /** Scenarios that could not run, with the reason (e.g. (e) without Redis/PostgreSQL). */
  readonly notRun?: Readonly<Record<string, string>>
}

interface ServerHandle {
  readonly port: number
  request(command: Command): Promise<Event>
  close(): Promise<void>
}

function startServer(
  entry: URL,
  cfg: ServerConfig,
  profileDir: string | undefined,
): Promise<ServerHandle> {
  // One folder per server, named after it.
  const profile =
    profileDir && cfg.variant.startsWith('ours')
      ? [
          '--cpu-prof',
          '--cpu-prof-dir',
          join(profileDir, `${cfg.framework}-${cfg.variant}-${Date.now()}`),
        ]
      : []
  const child: ChildProcess = fork(entry, [], {
    execArgv: profile,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  let pending: ((event: Event) => void) | undefined
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill()
      reject(new Error(`${cfg.framework}/${cfg.variant} did not start within 30 s`))
    }, 30_000)
    child.on('message', (event: Event) => {
      if (event.evt === 'ready') {
        clearTimeout(timer)
        resolve({
          port: event.port,
          request(command) {
            return new Promise((done, fail) => {
              pending = done
              child.send(command, (error) => error && fail(error))
            })
          },
          close() {
            return new Promise((done) => {
              if (child.exitCode !== null) return done()
              child.once('exit', () => done())
              child.send({ cmd: 'exit' })
              setTimeout(() => child.kill(), 5000).unref()
            })
          },
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
      reject(
        new Error(`${cfg.framework}/${cfg.variant} exited with code ${code} (its stderr is above)`),
      )
    })
    child.send(cfg)
  })
}

function headerSource(
  scenario: Scenario,
  tokens: HttpTokens,
  cursor: { i: number },
): () => string | undefined {
  switch (scenario.tokens) {
    case 'one': {
      const value = `Bearer ${tokens.one}`
      return () => value
    }
    case 'compressed': {
      const value = `Bearer ${tokens.compressed}`
      return () => value
    }
    case 'rotate': {
      const pool = tokens.rotate.map((t) => `Bearer ${t}`)
      let i = 0
      return () => pool[i++ % pool.length]
    }
    case 'fresh': {
      const pool = tokens.fresh
      return () => `Bearer ${pool[cursor.i++ % pool.length]}`
    }
  }
}

/** Runs the HTTP benchmark. */
export async function runHttp(opts: HttpOptions, tokens: HttpTokens): Promise<HttpResult> {
  const samples: HttpSample[] = []
  const skipped: { framework: Framework; variant: VariantId; reason: string }[] = []
  if (opts.profileDir) mkdirSync(opts.profileDir, { recursive: true })
  const settings = { connections: opts.connections, durationS: opts.durationS }
  for (const framework of opts.frameworks) {
    const wanted = [...new Set(opts.scenarios.flatMap((s) => s.variants(framework)))]
    for (let round = 0; round < opts.rounds; round++) {
      opts.log(`  ${FRAMEWORK_NAME[framework]}, round ${round + 1}/${opts.rounds}`)
      const servers = new Map<VariantId, ServerHandle>()
      const started = await Promise.allSettled(
        wanted.map((variant) =>
          startServer(
            opts.serverEntry,
            {
              framework,
              variant,
              publicKeyPem: tokens.publicKeyPem,
              ...(opts.store ? { store: opts.store } : {}),
            },
            opts.profileDir,
          ).then((s) => servers.set(variant, s)),
        ),
      )
      started.forEach((outcome, i) => {
        const variant = wanted[i] as VariantId
        if (outcome.status === 'rejected' && round === 0) {
          const reason =
            outcome.reason instanceof Error ? outcome.reason.message : String(outcome.reason)
          skipped.push({ framework, variant, reason })
          opts.log(`    ${variantLabel(framework, variant)} skipped: ${reason}`)
        }
      })
      // Each server walks the fresh pool from its start, once in its life.
      const cursors = new Map<VariantId, { i: number }>(wanted.map((v) => [v, { i: 0 }]))
      try {
        for (const scenario of opts.scenarios) {
          const order = roundOrder(
            scenario.variants(framework).filter((v) => servers.has(v)),
            round,
          )
          for (const variant of order) {
            const server = servers.get(variant) as ServerHandle
            const cursor = cursors.get(variant) as { i: number }
            const url = `http://127.0.0.1:${server.port}/`
            const next = headerSource(scenario, tokens, cursor)
            // Warm-up: a fixed time, or for (b) one full walk of the pool so every token was seen.
            const warm =
              scenario.tokens === 'rotate'
                ? { ...settings, amount: tokens.rotate.length }
                : { ...settings, durationS: opts.warmupS }
            await load(url, warm, next, false)
            const before = cursor.i
            await server.request({ cmd: 'start' })
            const result = await load(url, settings, next)
            const stopped = await server.request({ cmd: 'stop' })
            if (stopped.evt !== 'stopped') throw new Error('server did not report its CPU time')
            const sample: HttpSample = {
              round,
              framework,
              scenario: scenario.id,
              variant,
              load: result,
              cpuUsPerReq: stopped.cpuUs / Math.max(1, stopped.requests),
              serverRequests: stopped.requests,
              rssBytes: stopped.rssBytes,
              heapUsedBytes: stopped.heapUsedBytes,
              ...(scenario.tokens === 'fresh'
                ? { reusedTokens: Math.max(0, cursor.i - Math.max(before, tokens.fresh.length)) }
                : {}),
            }
            samples.push(sample)
            opts.log(
              `    ${scenario.id} ${variantLabel(framework, variant).padEnd(30)} ${result.reqPerSec.toFixed(0).padStart(6)} req/s  ` +
                `p50 ${result.p50.toFixed(2)} p99 ${result.p99.toFixed(2)} ms  ${sample.cpuUsPerReq.toFixed(1)} µs CPU/req` +
                (result.non2xx || result.errors
                  ? `  non-2xx ${result.non2xx} errors ${result.errors}`
                  : ''),
            )
          }
        }
      } finally {
        await Promise.all([...servers.values()].map((s) => s.close()))
      }
    }
  }
  const { log: _log, serverEntry: _entry, scenarios, store: _store, ...rest } = opts
  return {
    options: { ...rest, scenarios: scenarios.map((s) => s.id) },
    samples,
    skipped,
    poolSizes: { rotate: tokens.rotate.length, fresh: tokens.fresh.length },
  }
}
