/**
 * Login child (bundled, src/build.ts): `createLogin` with the rate limiter in Redis and
 * PostgreSQL behind it (the run's scratch schema), at the core's Argon2id parameters, beside its
 * floor (the bare Argon2 verification every login must do), and the Argon2 cost of other
 * parameter sets. Takes its job and answers over IPC (`runInChild`).
 */
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import { cpuUsage, hrtime } from 'node:process'
import { serveOneJob } from '../child.js'
import { loadCore } from '../ours.js'
import { connectRedis, repoRoot, type StoreConfig, schemaPool } from '../services.js'
import { quantile, roundOrder } from '../stats.js'

export interface Argon2Params {
  readonly label: string
  readonly memoryKiB: number
  readonly iterations: number
  readonly parallelism: number
}

export interface LoginJob {
  readonly store: StoreConfig
  readonly rounds: number
  /** Seconds per timed run; at least `minCalls` calls each (a set of the sweep: a quarter, 3). */
  readonly seconds: number
  readonly minCalls: number
  /** Argon2 parameter sets whose verification cost is measured (the first is ours). */
  readonly sweep: readonly Argon2Params[]
}

export type LoginKind = 'floor' | 'one' | 'all'

export interface LoginSample {
  readonly round: number
  readonly kind: LoginKind
  /** Calls in flight (the hasher runs as many at once). */
  readonly inFlight: number
  readonly calls: number
  readonly failed: number
  readonly wallS: number
  /** This process's CPU (user + system, all threads: Argon2 runs on libuv's pool), µs per call. */
  readonly cpuUs: number
  /** PostgreSQL's CPU (the pool's backends, from /proc), µs per call; NaN where unreadable. */
  readonly pgCpuUs: number
  readonly p50Ms: number
  readonly p99Ms: number
}

export interface SweepRow extends Argon2Params {
  /** Per round: CPU (all threads) and wall ms per verification, one at a time. */
  readonly cpuMs: readonly number[]
  readonly wallMs: readonly number[]
}

export interface LoginResult {
  readonly cores: number
  readonly argon2: string
  readonly params: Argon2Params
  readonly samples: readonly LoginSample[]
  readonly sweep: readonly SweepRow[]
}

const PASSWORD = 'correct horse battery staple'
const USERS = 200
const APP = 'af_bench_login'

interface Argon2 {
  hash(password: string, options: Record<string, number>): Promise<string>
  verify(hash: string, password: string): Promise<boolean>
}

const cpuNow = () => {
  const c = cpuUsage()
  return c.user + c.system
}

/** CPU µs of the given PostgreSQL backends so far (utime + stime from /proc, clock ticks of 10 ms). */
function backendCpuUs(pids: readonly number[]): number {
  let ticks = 0
  for (const pid of pids) {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? []
    ticks += Number(fields[11]) + Number(fields[12])
  }
  return pids.length ? ticks * 10_000 : Number.NaN
}

/** Runs `call(i)` with `inFlight` calls at once for `seconds` (at least `minCalls` calls). */
async function timed(
  call: (i: number) => Promise<boolean>,
  inFlight: number,
  [seconds, minCalls]: readonly [number, number],
  pgCpu: () => Promise<number> = async () => Number.NaN,
) {
  const latencies: number[] = []
  let next = 0
  let failed = 0
  const cpu0 = cpuNow()
  const pg0 = await pgCpu()
  const t0 = hrtime.bigint()
  const end = Date.now() + seconds * 1000
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (Date.now() < end || next < minCalls) {
        const i = next++
        const s = hrtime.bigint()
        if (!(await call(i).catch(() => false))) failed++
        latencies.push(Number(hrtime.bigint() - s) / 1e6)
      }
    }),
  )
  const calls = latencies.length
  const pg1 = await pgCpu()
  return {
    calls,
    failed,
    wallS: Number(hrtime.bigint() - t0) / 1e9,
    cpuUs: (cpuNow() - cpu0) / calls,
    pgCpuUs: (pg1 - pg0) / calls,
    p50Ms: quantile(latencies, 0.5),
    p99Ms: quantile(latencies, 0.99),
  }
}

async function measure(job: LoginJob): Promise<LoginResult> {
  const core = await loadCore()
  // the copy the core loads: @node-rs/argon2 is its (optional) dependency, not the bench's
  const require = createRequire(join(repoRoot(), 'packages', 'core', 'package.json'))
  const argon2 = require('@node-rs/argon2') as Argon2
  const { version } = require('@node-rs/argon2/package.json') as { version: string }
  const cores = availableParallelism()
  const params = { label: 'ours', ...core.OWASP_ARGON2ID }
  const pool = schemaPool(job.store, 2 * cores, APP)
  const redis = await connectRedis(job.store.redisUrl)
  try {
    const hasher = (maxConcurrent: number) =>
      core.createPasswordHasher({ params: core.OWASP_ARGON2ID, maxConcurrent })
    const stored = await hasher(1).hash(PASSWORD)
    await pool.query('UPDATE users SET password_hash = $1', [stored])
    const limiter = core.createRateLimiter({
      redis: { client: redis, keyPrefix: `${job.store.keyPrefix}login:` },
    })
    const login = (maxConcurrent: number) => {
      const l = core.createLogin({ pool, limiter, hasher: hasher(maxConcurrent) })
      return async (i: number) => {
        const n = 1 + (i % USERS)
        const clientAddress = `10.0.${n >> 8}.${n & 255}`
        const username = `user-${n}`
        return (
          (await l.authenticate({ username, password: PASSWORD, clientAddress })).id === username
        )
      }
    }
    const runs: Record<LoginKind, [(i: number) => Promise<boolean>, number]> = {
      floor: [() => argon2.verify(stored, PASSWORD), 1],
      one: [login(1), 1],
      all: [login(cores), cores],
    }
    // warm: the pool's connections, the prepared statements, the limiter's script
    for (const [call, inFlight] of Object.values(runs))
      await Promise.all(Array.from({ length: 2 * inFlight }, (_, i) => call(i)))
    // the pool's backends, looked up each time (a connection opened during a run counts whole)
    const pgCpu = async () => {
      const sql = 'SELECT pid FROM pg_stat_activity WHERE application_name = $1'
      const { rows } = await pool.query(sql, [APP])
      try {
        return backendCpuUs(rows.map((r: { pid: number }) => r.pid))
      } catch {
        return Number.NaN
      }
    }
    const samples: LoginSample[] = []
    for (let round = 0; round < job.rounds; round++) {
      for (const kind of roundOrder(['floor', 'one', 'all'] as const, round)) {
        const [call, inFlight] = runs[kind]
        samples.push({
          round,
          kind,
          inFlight,
          ...(await timed(call, inFlight, [job.seconds, job.minCalls], pgCpu)),
        })
      }
    }
    // the sweep: one hash per set, then paired rounds as above (a quarter of the time each)
    const sets: { hash: string; row: SweepRow & { cpuMs: number[]; wallMs: number[] } }[] = []
    for (const p of job.sweep) {
      const [memoryCost, timeCost, parallelism] = [p.memoryKiB, p.iterations, p.parallelism]
      const options = { algorithm: 2, memoryCost, timeCost, parallelism } // 2: Argon2id
      const hash = await argon2.hash(PASSWORD, options)
      sets.push({ hash, row: { ...p, cpuMs: [], wallMs: [] } })
    }
    for (let round = 0; round < job.rounds; round++) {
      for (const { hash, row } of roundOrder(sets, round)) {
        const t = await timed(() => argon2.verify(hash, PASSWORD), 1, [job.seconds / 4, 3])
        row.cpuMs.push(t.cpuUs / 1000)
        row.wallMs.push((t.wallS * 1000) / t.calls)
      }
    }
    const sweep = sets.map((s) => s.row)
    return { cores, argon2: version, params, samples, sweep }
  } finally {
    await pool.end().catch(() => {})
    redis.disconnect()
  }
}

serveOneJob(async (job: LoginJob) => ({ result: await measure(job) }))
