/**
 * `pnpm bench [--quick] [--only micro,http,memory] [options]` — runs the benchmarks and writes
 * results/<timestamp>.json and REPORT.md with its charts. See README.md for the method.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { buildBundles } from './build.js'
import { runInChild } from './child.js'
import { describeEnvironment } from './env.js'
import { type InMemoryResult, runInMemory } from './http/in-memory-run.js'
import { type HttpResult, runHttp } from './http/index.js'
import { FRAMEWORKS, type Framework, SCENARIOS, type ScenarioId } from './http/variants.js'
import { type InstructionsResult, runInstructions } from './instructions/index.js'
import { type IntrospectionResult, runIntrospection } from './introspection/index.js'
import { type MemoryResult, runMemory } from './memory.js'
import type { MicroResult } from './micro.js'
import { type BenchResults, renderReport } from './report.js'
import { NOT_RUN, type StoreSetup, servicesRequired, setUpStore } from './services.js'
import { signPool } from './sign-pool.js'
import { compressToken, generateKeyMaterial, signTokens } from './tokens.js'

const HELP = `Usage: pnpm bench [options]

  --quick                 smoke run (< 60 s): tiny durations, one round; numbers are noise
  --only <parts>          comma list of micro, instructions, inmemory, http, memory,
                          introspection
                          (default: all; instructions needs valgrind)
  --rounds <n>            HTTP rounds (default 3; quick 1)
  --duration <s>          measured seconds per HTTP run (default 5; quick 0.3)
  --warmup <s>            warm-up seconds per HTTP run (default 2; quick 0.2)
  --connections <n>       autocannon connections (default 50)
  --frameworks <list>     comma list of fastify, koa, express
  --scenarios <list>      comma list of a, b, c, d, e (e: Express and Fastify only)
  --micro-rounds <n>      micro rounds per group (default 15; quick 3)
  --memory-sizes <list>   cache sizes for the memory run (default 100000,1000000; quick 5000)
  --profile               write V8 CPU profiles of the "ours" servers to results/profiles/
  --from <results.json>   re-render the report of an earlier run; measures nothing
  --help                  this text
`

const BENCH_DIR = join(dirname(fileURLToPath(import.meta.url)), '..')

function list(value: string | undefined): string[] | undefined {
  return value
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean)
}

function positive(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback
  const n = Number(value)
  if (!(n > 0)) throw new TypeError(`--${name}: expected a positive number, got ${value}`)
  return n
}

function stamp(date: Date): string {
  return date
    .toISOString()
    .replace(/\.\d+Z$/, 'Z')
    .replace(/:/g, '-')
}

function writeReport(results: BenchResults, reportDir: string): void {
  const notesFile = join(BENCH_DIR, 'NOTES.md')
  const notes = existsSync(notesFile) ? readFileSync(notesFile, 'utf8') : undefined
  const { markdown, charts } = renderReport(results, notes ? { notes } : {})
  mkdirSync(join(reportDir, 'charts'), { recursive: true })
  writeFileSync(join(reportDir, 'REPORT.md'), markdown)
  for (const [name, svg] of Object.entries(charts))
    writeFileSync(join(reportDir, 'charts', name), svg)
}

/** Re-renders the report of an earlier run (after a change to the report code). */
function rerender(file: string): number {
  // pnpm runs the script in bench/; a relative path was meant from where the user typed it.
  const path = resolve(process.env.INIT_CWD ?? process.cwd(), file)
  const results = JSON.parse(readFileSync(path, 'utf8')) as BenchResults
  const complete =
    results.mode === 'full' &&
    Boolean(results.micro && results.http && results.memory && results.introspection)
  const reportDir =
    results.mode === 'quick'
      ? join(BENCH_DIR, 'results', 'quick')
      : complete
        ? BENCH_DIR
        : join(BENCH_DIR, 'results', 'partial')
  writeReport(results, reportDir)
  process.stdout.write(
    `Re-rendered ${relative(process.cwd(), join(reportDir, 'REPORT.md'))} from ${file}\n`,
  )
  return 0
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      rounds: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      connections: { type: 'string' },
      frameworks: { type: 'string' },
      scenarios: { type: 'string' },
      'micro-rounds': { type: 'string' },
      'memory-sizes': { type: 'string' },
      profile: { type: 'boolean', default: false },
      from: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    allowPositionals: false,
  })
  if (values.help) {
    process.stdout.write(HELP)
    return 0
  }
  if (values.from) return rerender(values.from)
  const quick = values.quick === true
  const PARTS = ['micro', 'instructions', 'inmemory', 'http', 'memory', 'introspection']
  const parts = new Set(list(values.only) ?? PARTS)
  for (const p of parts) if (!PARTS.includes(p)) throw new TypeError(`--only: unknown part ${p}`)
  const frameworks = (list(values.frameworks) ?? [...FRAMEWORKS]) as Framework[]
  for (const f of frameworks)
    if (!FRAMEWORKS.includes(f)) throw new TypeError(`--frameworks: unknown ${f}`)
  const scenarioIds = (list(values.scenarios) ?? SCENARIOS.map((s) => s.id)) as ScenarioId[]
  const scenarios = SCENARIOS.filter((s) => scenarioIds.includes(s.id))
  const rounds = positive('rounds', values.rounds, quick ? 1 : 3)
  const durationS = positive('duration', values.duration, quick ? 0.3 : 5)
  const warmupS = positive('warmup', values.warmup, quick ? 0.2 : 2)
  const connections = positive('connections', values.connections, 50)
  const memorySizes = (
    list(values['memory-sizes']) ?? (quick ? ['5000'] : ['100000', '1000000'])
  ).map((s) => positive('memory-sizes', s, 1))
  const complete = parts.size === PARTS.length && !values.frameworks && !values.scenarios

  const started = new Date()
  const log = (line: string) => process.stdout.write(`${line}\n`)
  const command = `pnpm bench${process.argv.slice(2).length ? ` ${process.argv.slice(2).join(' ')}` : ''}`
  log(`${command} — ${quick ? 'quick smoke run' : 'full run'}`)
  const environment = describeEnvironment()
  log(`${environment.cpuModel}, ${environment.cores} cores, Node ${environment.node}`)

  let micro: MicroResult | undefined
  let http: HttpResult | undefined
  let memory: MemoryResult | undefined
  let introspection: IntrospectionResult | undefined
  let instructions: InstructionsResult | undefined
  let inMemory: InMemoryResult | undefined
  let storeStatus: string | undefined
  const problems: string[] = []

  const bundles = await buildBundles()

  // --quick: the callgrind smoke runs beside the other parts, its lines held until it is reported
  // (instruction counts do not depend on load, and quick timings are noise anyway), so that the
  // smoke run stays under a minute. A full run counts on its own, after the micro-benchmarks.
  const smokeLines: string[] = []
  const smoke =
    quick && parts.has('instructions')
      ? runInstructions({
          entry: bundles.instructions,
          httpEntry: bundles.instructionsHttp,
          quick,
          log: (line) => smokeLines.push(line),
        })
      : undefined

  if (parts.has('micro')) {
    log('\nMicro-benchmarks')
    const answer = await runInChild<{ result: MicroResult }>(bundles.micro, {
      rounds: positive('micro-rounds', values['micro-rounds'], quick ? 3 : 15),
      sampleMs: quick ? 5 : 40,
      warmupMs: quick ? 20 : 300,
      poolSize: quick ? 128 : 512,
    })
    micro = answer.result
    for (const g of micro.groups) {
      for (const c of g.contenders) {
        if (c.skipped?.startsWith(NOT_RUN) && !servicesRequired()) continue
        if (c.skipped && (c.role === 'ours' || c.skipped.startsWith('failed')))
          problems.push(`micro ${g.id}: ${c.name}: ${c.skipped}`)
      }
    }
  }

  if (parts.has('instructions') && !smoke) {
    log('\nInstruction counts (callgrind)')
    instructions = await runInstructions({
      entry: bundles.instructions,
      httpEntry: bundles.instructionsHttp,
      quick,
      log,
    })
    problems.push(...instructions.failures)
  }

  if (parts.has('inmemory')) {
    log('\nHTTP apps on in-memory connections, timed')
    inMemory = await runInMemory({
      entry: bundles.inMemory,
      frameworks,
      rounds: quick ? 1 : 9,
      quick,
      log,
    })
    problems.push(...inMemory.failures)
  }

  if (parts.has('http')) {
    log('\nHTTP: signing token pools')
    const material = generateKeyMaterial('RS256')
    const [one] = signTokens(material, 1, 0) as [string]
    const rotateSize = quick ? 500 : 10_000
    const freshSize = quick ? 3000 : Math.min(250_000, Math.ceil(16_000 * (warmupS + durationS)))
    const t0 = performance.now()
    const rotate = await signPool(material, rotateSize, 1)
    const fresh = scenarioIds.includes('c')
      ? await signPool(material, freshSize, 1 + rotateSize)
      : []
    log(
      `  ${rotate.length + fresh.length} RS256 tokens in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    )
    // Scenario (e): a scratch schema seeded with the rotated tokens' subjects, a unique key prefix.
    let store: StoreSetup | undefined
    let runScenarios = scenarios
    if (scenarioIds.includes('e') && frameworks.some((f) => f !== 'koa')) {
      try {
        store = await setUpStore(rotateSize + 2)
        log(
          `  scenario (e): scratch schema ${store.config.schema}, key prefix ${store.config.keyPrefix}`,
        )
      } catch (error) {
        const reason = `${NOT_RUN}: ${error instanceof Error ? error.message : String(error)}`
        log(`  scenario (e) ${reason}`)
        storeStatus = reason
        runScenarios = scenarios.filter((s) => s.id !== 'e')
        if (servicesRequired()) problems.push(`http scenario (e): ${reason}`)
      }
    }
    try {
      http = await runHttp(
        {
          serverEntry: bundles.server,
          frameworks,
          scenarios: runScenarios,
          ...(store ? { store: store.config } : {}),
          rounds,
          durationS,
          warmupS,
          connections,
          ...(values.profile ? { profileDir: join(BENCH_DIR, 'results', 'profiles') } : {}),
          log,
        },
        { publicKeyPem: material.verifyPem, one, compressed: compressToken(one), rotate, fresh },
      )
    } finally {
      await store?.cleanup()
    }
    if (storeStatus) http = { ...http, notRun: { e: storeStatus } }
    for (const s of http.skipped) problems.push(`http ${s.framework}/${s.variant}: ${s.reason}`)
    for (const s of http.samples) {
      if (s.load.non2xx || s.load.errors) {
        problems.push(
          `http ${s.framework}/${s.scenario}/${s.variant}: ${s.load.non2xx} non-2xx, ${s.load.errors} errors`,
        )
      }
    }
  }

  if (parts.has('memory')) {
    log('\nMemory per cached verification')
    memory = await runMemory({
      entry: bundles.memory,
      sizes: memorySizes,
      subjects: quick ? ['ours', 'floor'] : ['ours', 'floor', 'fast-jwt'],
      log,
    })
    for (const f of memory.failures) problems.push(`memory ${f.subject}/${f.entries}: ${f.reason}`)
  }

  if (parts.has('introspection')) {
    log('\nIntrospection through Express')
    introspection = await runIntrospection({
      entry: bundles.introspection,
      rounds: quick ? 1 : 3,
      requests: quick ? 300 : 5000,
      concurrency: 32,
      warmupRequests: quick ? 100 : 1000,
      asLatencyMs: 0,
      log,
    })
    problems.push(...introspection.failures)
    if (introspection.notRun && servicesRequired())
      problems.push(`introspection: ${introspection.notRun}`)
  }

  if (smoke) {
    instructions = await smoke
    log('\nInstruction counts (callgrind, smoke, run beside the parts above)')
    for (const line of smokeLines) log(line)
    problems.push(...instructions.failures)
  }

  const finished = new Date()
  const results: BenchResults = {
    schema: 1,
    mode: quick ? 'quick' : 'full',
    command,
    startedAt: started.toISOString(),
    finishedAt: finished.toISOString(),
    seconds: (finished.getTime() - started.getTime()) / 1000,
    environment,
    ...(micro ? { micro } : {}),
    ...(http ? { http } : {}),
    ...(memory ? { memory } : {}),
    ...(introspection ? { introspection } : {}),
    ...(instructions ? { instructions } : {}),
    ...(inMemory ? { inMemory } : {}),
  }
  const resultsDir = join(BENCH_DIR, 'results')
  mkdirSync(resultsDir, { recursive: true })
  const jsonPath = join(
    resultsDir,
    `${stamp(started)}${quick ? '-quick' : complete ? '' : '-partial'}.json`,
  )
  writeFileSync(jsonPath, `${JSON.stringify(results, null, 1)}\n`)
  // The committed REPORT.md is only ever written by a complete full run.
  const reportDir = quick
    ? join(resultsDir, 'quick')
    : complete
      ? BENCH_DIR
      : join(resultsDir, 'partial')
  const notesFile = join(BENCH_DIR, 'NOTES.md')
  const notes = existsSync(notesFile) ? readFileSync(notesFile, 'utf8') : undefined
  const { markdown, charts } = renderReport(results, notes ? { notes } : {})
  mkdirSync(join(reportDir, 'charts'), { recursive: true })
  writeFileSync(join(reportDir, 'REPORT.md'), markdown)
  for (const [name, svg] of Object.entries(charts))
    writeFileSync(join(reportDir, 'charts', name), svg)
  log(
    `\nWrote ${relative(process.cwd(), jsonPath)} and ${relative(process.cwd(), join(reportDir, 'REPORT.md'))} in ${results.seconds.toFixed(1)} s`,
  )
  if (problems.length) {
    log(`\n${problems.length} contender(s) did not run correctly:`)
    for (const p of problems) log(`  - ${p}`)
    return 1
  }
  return 0
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(
      `${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    )
    process.exit(2)
  },
)
