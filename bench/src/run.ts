/**
 * `pnpm bench [--quick] [--only parts] [options]`: runs the benchmark and writes
 * results/<timestamp>.json and REPORT.md with its charts. The method is in README.md.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { buildBundles } from './build.js'
import { runInChild } from './child.js'
import { describeEnvironment } from './env.js'
import { runInMemory } from './http/in-memory-run.js'
import { runHttp } from './http/index.js'
import { FRAMEWORKS, type Framework, VARIANTS } from './http/variants.js'
import { runLogin } from './login/index.js'
import { runMemory } from './memory.js'
import type { MicroJob, MicroResult } from './micro-groups.js'
import { type CoreModule, loadCore, reason } from './ours.js'
import { type BenchResults, renderReport } from './report.js'
import { NOT_RUN, type Scratch, servicesRequired, setUpScratch } from './services.js'
import { generateKeyMaterial, signTokens } from './tokens.js'

const HELP = `Usage: pnpm bench [options]

  --quick                 smoke run (< 60 s), what CI runs; its numbers are noise
  --only <parts>          comma list of micro, inmemory, http, login, memory (default: all)
  --frameworks <list>     comma list of fastify, koa, express, hono, nestjs (in-memory and HTTP)
  --rounds <n>            HTTP rounds (default 3; quick 1)
  --duration <s>          measured seconds per HTTP run (default 2; quick 0.3)
  --warmup <s>            warm-up seconds per HTTP run (default 1; quick 0.2)
  --connections <n>       autocannon connections (default 50)
  --from <results.json>   re-render the report of an earlier run; measures nothing
  --help                  this text
`

const BENCH_DIR = join(dirname(fileURLToPath(import.meta.url)), '..')
const RESULTS = join(BENCH_DIR, 'results')
const PARTS = ['micro', 'inmemory', 'http', 'login', 'memory'] as const

const list = (value: string | undefined) =>
  value
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean)

function positive(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback
  const n = Number(value)
  if (!(n > 0)) throw new TypeError(`--${name}: expected a positive number, got ${value}`)
  return n
}

/** A complete full run writes the committed report; anything else writes under results/. */
function reportDir(r: BenchResults): string {
  const complete = r.mode === 'full' && PARTS.every((p) => r.parts.includes(p)) && !r.partial
  return r.mode === 'quick'
    ? join(RESULTS, 'quick')
    : complete
      ? BENCH_DIR
      : join(RESULTS, 'partial')
}

function writeReport(r: BenchResults): string {
  const dir = reportDir(r)
  const { markdown, charts } = renderReport(r)
  rmSync(join(dir, 'charts'), { recursive: true, force: true })
  mkdirSync(join(dir, 'charts'), { recursive: true })
  writeFileSync(join(dir, 'REPORT.md'), markdown)
  for (const [name, svg] of Object.entries(charts)) writeFileSync(join(dir, 'charts', name), svg)
  return join(dir, 'REPORT.md')
}

async function main(): Promise<number> {
  const string = { type: 'string' } as const
  const flag = { type: 'boolean', default: false } as const
  const { values } = parseArgs({
    options: {
      ...{ quick: flag, help: flag, only: string, frameworks: string },
      ...{ rounds: string, duration: string, warmup: string, connections: string, from: string },
    },
  })
  if (values.help) {
    process.stdout.write(HELP)
    return 0
  }
  if (values.from) {
    // pnpm runs the script in bench/; a relative path was meant from where the user typed it
    const file = resolve(process.env.INIT_CWD ?? process.cwd(), values.from)
    const path = writeReport(JSON.parse(readFileSync(file, 'utf8')) as BenchResults)
    process.stdout.write(`Re-rendered ${relative(process.cwd(), path)} from ${values.from}\n`)
    return 0
  }
  const quick = values.quick
  const parts = list(values.only) ?? [...PARTS]
  for (const p of parts)
    if (!PARTS.includes(p as never)) throw new TypeError(`--only: unknown part ${p}`)
  const frameworks = (list(values.frameworks) ?? [...FRAMEWORKS]) as Framework[]
  for (const f of frameworks)
    if (!FRAMEWORKS.includes(f)) throw new TypeError(`--frameworks: unknown ${f}`)
  const started = new Date()
  const log = (line: string) => process.stdout.write(`${line}\n`)
  const command = ['pnpm bench', ...process.argv.slice(2)].join(' ')
  const environment = describeEnvironment()
  log(`${command}: ${quick ? 'quick smoke run' : 'full run'}`)
  log(`${environment.cpuModel}, ${environment.cores} cores, Node ${environment.node}`)
  const problems: string[] = []
  const results: BenchResults = {
    mode: quick ? 'quick' : 'full',
    command,
    parts,
    partial: Boolean(values.frameworks),
    startedAt: started.toISOString(),
    seconds: 0,
    environment,
    notRun: {},
    poolSize: 0,
  }
  const bundles = await buildBundles()

  // One scratch schema and key prefix for every part that needs Redis and PostgreSQL.
  const poolSize = quick ? 500 : 5000
  results.poolSize = poolSize
  let scratch: Scratch | undefined
  let core: CoreModule | undefined
  let noServices: string | undefined
  try {
    core = await loadCore()
    if (parts.some((p) => p !== 'memory')) scratch = await setUpScratch(core, poolSize + 2)
    if (scratch) log(`Scratch schema ${scratch.config.schema} and its Redis key prefix`)
  } catch (error) {
    noServices = `${NOT_RUN}: ${reason(error)}`
    log(noServices)
    if (core === undefined || servicesRequired()) problems.push(noServices)
  }
  const store = scratch?.config
  const notRun = (part: string) => {
    if (noServices) results.notRun[part] = noServices
  }
  try {
    if (parts.includes('micro')) {
      log('\nMicro-benchmarks')
      const options = quick
        ? { rounds: 3, sampleMs: 5, warmupMs: 20, poolSize: 128 }
        : { rounds: 15, sampleMs: 40, warmupMs: 300, poolSize: 512 }
      const job: MicroJob = { options, store: store ?? (noServices as string) }
      const { result } = await runInChild<{ result: MicroResult }>(bundles.micro, job)
      results.micro = result
      for (const g of result.groups)
        for (const c of g.contenders)
          if (c.skipped && (c.skipped.startsWith('failed') || c.role === 'ours'))
            if (!c.skipped.startsWith(NOT_RUN) || servicesRequired())
              problems.push(`micro ${g.id}: ${c.name}: ${c.skipped}`)
    }
    const http = parts.includes('inmemory') || parts.includes('http')
    const material = generateKeyMaterial('RS256')
    const [one] = signTokens(material, 1, 0) as [string]
    const pool = http ? signTokens(material, poolSize, 1) : []
    const variants = VARIANTS.filter((x) => store || x !== 'ours-store')
    if (http && !store) notRun('ours-store')
    const apps = { frameworks, variants, publicKeyPem: material.verifyPem, one, pool, store, log }
    if (parts.includes('inmemory')) {
      log('\nWhole requests on in-memory connections, timed')
      const counts = quick
        ? { warmup: poolSize, batches: 2, batchSize: 100 }
        : { warmup: 8000, batches: 5, batchSize: 800 }
      results.inMemory = await runInMemory({
        ...apps,
        entry: bundles.inMemory,
        rounds: quick ? 1 : 4,
        counts,
      })
      problems.push(...results.inMemory.failures)
    }
    if (parts.includes('http')) {
      log('\nHTTP on sockets, autocannon')
      results.http = await runHttp({
        ...apps,
        // the no-op control runs in memory only: on sockets it is lost in the noise (±15 µs)
        variants: variants.filter((x) => x !== 'noop'),
        serverEntry: bundles.server,
        rounds: positive('rounds', values.rounds, quick ? 1 : 3),
        durationS: positive('duration', values.duration, quick ? 0.3 : 2),
        warmupS: positive('warmup', values.warmup, quick ? 0.2 : 1),
        connections: positive('connections', values.connections, 50),
      })
      problems.push(...results.http.failures)
    }
    if (parts.includes('login')) {
      log('\nLogin: authenticateUser with the rate limiter and PostgreSQL')
      if (store) {
        results.login = await runLogin(bundles.login, store, quick, log)
        const failed = results.login.samples.reduce((n, s) => n + s.failed, 0)
        if (failed) problems.push(`login: ${failed} logins failed`)
      } else notRun('login')
    }
  } finally {
    await scratch?.cleanup()
  }
  if (parts.includes('memory')) {
    log('\nMemory per cached verification')
    results.memory = await runMemory(bundles.memory, quick ? 5000 : 1_000_000, log)
    problems.push(...results.memory.failures)
  }

  results.seconds = (Date.now() - started.getTime()) / 1000
  const dir = reportDir(results)
  const stamp = started.toISOString().slice(0, 19).replace(/:/g, '-')
  const suffix = dir === BENCH_DIR ? '' : dir.endsWith('quick') ? '-quick' : '-partial'
  mkdirSync(RESULTS, { recursive: true })
  // A complete full run replaces the previous one: only the latest full result stays in git.
  for (const f of readdirSync(RESULTS))
    if (dir === BENCH_DIR && /^[\dT-]+Z\.json$/.test(f)) rmSync(join(RESULTS, f))
  const json = join(RESULTS, `${stamp}Z${suffix}.json`)
  writeFileSync(json, `${JSON.stringify(results, null, 1)}\n`)
  const report = writeReport(results)
  log(
    `\nWrote ${relative(process.cwd(), json)} and ${relative(process.cwd(), report)} in ${results.seconds.toFixed(0)} s`,
  )
  if (problems.length === 0) return 0
  log(`\n${problems.length} contender(s) did not run correctly:`)
  for (const p of problems) log(`  - ${p}`)
  return 1
}

main().then(
  (code) => process.exit(code),
  (error: Error) => {
    process.stderr.write(`${error?.stack ?? String(error)}\n`)
    process.exit(2)
  },
)
