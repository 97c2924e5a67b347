/**
 * Instruction counts under `valgrind --tool=callgrind`: the micro-benchmark contenders
 * (`child.ts`) and whole HTTP requests (`http-child.ts`).
 *
 * Timings on a shared two-core machine move by ±30 % between rounds; an instruction count does
 * not. Each contender runs alone in its own process under callgrind, with V8 made deterministic
 * (one thread, fixed hash and random seeds, no memory reducer, a predictable GC schedule), so the
 * same code counts nearly the same instructions from run to run, whatever else the machine is
 * doing: micro counts within 0.14 % over two full runs. The count is not time (a cache miss and
 * a division cost more than an add), but "does ours do more work than the floor or fast-jwt"
 * becomes a question with one answer. The warm-up runs uninstrumented and the counted span covers
 * the measured calls only (`handshake.ts`), so start-up and JIT warm-up are left out.
 */
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import {
  FRAMEWORKS,
  type Framework,
  IN_PROCESS_FRESH,
  IN_PROCESS_ONE_TOKEN,
  type VariantId,
  variantLabel,
} from '../http/variants.js'
import { signPool } from '../sign-pool.js'
import { ALGORITHMS, type Algorithm, generateKeyMaterial, signTokens } from '../tokens.js'
import type { ContenderId, InstructionJob } from './child.js'
import { SPAN_FLAGS } from './handshake.js'
import type { HttpInstructionJob } from './http-child.js'

/** V8 flags that make a run repeatable instruction for instruction. */
export const DETERMINISTIC_FLAGS = [
  '--single-threaded',
  '--hash-seed=1',
  '--random-seed=1',
  '--no-memory-reducer',
  '--predictable-gc-schedule',
] as const

type Role = 'floor' | 'peer' | 'ours' | 'control'

const CONTENDER_NAMES: Record<ContenderId, { name: string; role: Role }> = {
  floor: { name: 'floor (node:crypto)', role: 'floor' },
  'fast-jwt': { name: 'fast-jwt', role: 'peer' },
  ours: { name: 'ours (cache: false)', role: 'ours' },
  'ours-missing': { name: 'ours (cache full, every lookup misses)', role: 'ours' },
  'floor-hit': { name: 'floor (sha256 + lru get + exp)', role: 'floor' },
  'fast-jwt-hit': { name: 'fast-jwt (cache hit)', role: 'peer' },
  'ours-hit': { name: 'ours (cache hit)', role: 'ours' },
}

export interface InstructionRow {
  /** A micro contender, or (HTTP groups) the app variant. */
  readonly contender: ContenderId | VariantId
  readonly name: string
  /** `control`: bare and the no-op middleware of the HTTP groups. */
  readonly role: Role
  /** Instructions per call (HTTP groups: per request) over the measured calls. */
  readonly perCall?: number
  readonly failed?: string
}

export interface InstructionGroup {
  readonly id: string
  readonly title: string
  readonly warmup: number
  readonly measured: number
  /** HTTP groups: the framework and the scenario of the HTTP part. */
  readonly http?: { readonly framework: Framework; readonly scenario: 'a' | 'c' }
  readonly rows: readonly InstructionRow[]
}

export interface InstructionsResult {
  /** Why nothing was counted (no valgrind), if so. */
  readonly notRun?: string
  readonly tool?: string
  readonly nodeFlags: readonly string[]
  readonly groups: readonly InstructionGroup[]
  readonly failures: readonly string[]
}

export interface InstructionsOptions {
  readonly entry: URL
  /** The HTTP child (`http-child.ts`); without it, only the micro contenders are counted. */
  readonly httpEntry?: URL
  readonly log: (line: string) => void
  /** Contenders counted at once (each is one busy process). */
  readonly parallel?: number
  /**
   * Smoke run: ours on HS256 only and ours on Fastify (a), a few hundred calls: proves the
   * harnesses run, counts nothing useful.
   */
  readonly quick?: boolean
}

/** A contender gets this long under valgrind (about 50× slower than native) before it is killed. */
const CONTENDER_TIMEOUT_MS = 10 * 60 * 1000

function valgrindVersion(): string | undefined {
  const v = spawnSync('valgrind', ['--version'], { encoding: 'utf8' })
  const c = spawnSync('callgrind_control', ['-h'], { encoding: 'utf8' })
  if (v.status !== 0 || c.error) return undefined
  return v.stdout.trim()
}

/** What `count` needs of a job; the rest is the child's. */
interface CountedJob {
  readonly warmup: number
  readonly measured: number
}

/**
 * Runs one job under callgrind; resolves with instructions per measured call. `tag` names its
 * files in `dir`.
 */
export function count(
  entry: URL,
  job: CountedJob,
  dir: string,
  tag: string,
  extraNodeFlags?: readonly string[],
): Promise<number> {
  const jobFile = join(dir, `${tag}.json`)
  const outFile = join(dir, `${tag}.callgrind`)
  writeFileSync(jobFile, JSON.stringify(job))
  return new Promise((resolve, reject) => {
    const child = spawn(
      'valgrind',
      [
        '--tool=callgrind',
        // V8 writes machine code at run time
        '--smc-check=all-non-file',
        // the warm-up runs uninstrumented (several times faster) until READY
        '--instr-atstart=no',
        // the counted span: from countFrom() to countTo() in the child
        ...SPAN_FLAGS,
        `--callgrind-out-file=${outFile}`,
        process.execPath,
        ...DETERMINISTIC_FLAGS,
        ...(extraNodeFlags ?? []),
        fileURLToPath(entry),
        jobFile,
      ],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    )
    let stderr = ''
    child.stderr?.setEncoding('utf8')
    child.stderr?.on('data', (d: string) => {
      stderr = (stderr + d).slice(-4000)
    })
    const control = (...args: string[]) => {
      const r = spawnSync('callgrind_control', [...args, String(child.pid)], { encoding: 'utf8' })
      if (r.status !== 0) throw new Error(`callgrind_control ${args.join(' ')} failed: ${r.stderr}`)
    }
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`no answer within ${CONTENDER_TIMEOUT_MS / 1000} s`))
    }, CONTENDER_TIMEOUT_MS)
    let ok = -1
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      try {
        if (line === 'READY') {
          control('-i', 'on') // instrumentation (off during the warm-up)
          child.kill('SIGUSR2')
        } else if (line.startsWith('DONE')) {
          ok = Number(line.slice(5))
        }
      } catch (error) {
        child.kill('SIGKILL')
        reject(error)
      }
    })
    // 'close', not 'exit': it comes after stdout has ended, so the DONE line has been read (on a
    // loaded machine 'exit' can come first, and a good run would count as failed)
    child.once('close', (code) => {
      clearTimeout(timer)
      if (code !== 0 || ok < 0) {
        const last = stderr
          .split('\n')
          .filter((l) => !l.startsWith('=='))
          .slice(-3)
        reject(new Error(`exited with code ${code}${last.length ? `: ${last.join(' ')}` : ''}`))
        return
      }
      if (ok !== job.warmup + job.measured) {
        reject(new Error(`${job.warmup + job.measured - ok} call(s) did not verify`))
        return
      }
      try {
        const dump = readFileSync(`${outFile}.1`, 'utf8')
        const match = /^summary:\s+(\d+)/m.exec(dump) ?? /^totals:\s+(\d+)/m.exec(dump)
        if (!match) throw new Error('no instruction total in the callgrind dump')
        resolve(Number(match[1]) / job.measured)
      } catch (error) {
        reject(error)
      }
    })
  })
}

interface Planned {
  readonly group: string
  readonly entry: URL
  readonly tag: string
  readonly label: string
  readonly row: Omit<InstructionRow, 'perCall' | 'failed'>
  readonly job: InstructionJob | HttpInstructionJob
}

function roleOf(variant: VariantId): Role {
  if (variant === 'bare' || variant === 'noop') return 'control'
  return variant.startsWith('peer') ? 'peer' : 'ours'
}

/**
 * The HTTP groups: every framework in scenarios (a) and (c), each app driven through an in-memory
 * connection (`http-child.ts`). RS256, like the HTTP part.
 */
async function httpPlan(
  entry: URL,
  quick: boolean | undefined,
  groups: Map<string, InstructionGroup & { rows: InstructionRow[] }>,
): Promise<Planned[]> {
  const plan: Planned[] = []
  const m = generateKeyMaterial('RS256')
  // 20,000 warm-up requests (the last 3,000 counted but outside the span): with 6,000 or 10,000,
  // Fastify's handleRequest and Node's processHeader were still being compiled for the first
  // time inside the span (`--trace-opt`), ≈ 20k–35k instructions per request of TurboFan
  const one = quick ? { warmup: 300, measured: 100 } : { warmup: 20_000, measured: 3000 }
  const fresh = { warmup: 20_000, measured: 2000 }
  const oneToken = signTokens(m, 1, 0)
  const freshTokens = quick ? [] : await signPool(m, fresh.warmup + fresh.measured, 1)
  const scenarios = [
    { scenario: 'a', title: '(a) one valid token, repeated', counts: one, tokens: oneToken },
    {
      scenario: 'c',
      title: '(c) a new token on every request',
      counts: fresh,
      tokens: freshTokens,
    },
  ] as const
  for (const { scenario, title, counts, tokens } of quick ? scenarios.slice(0, 1) : scenarios) {
    for (const framework of quick ? (['fastify'] as const) : FRAMEWORKS) {
      const id = `http-${scenario}-${framework}`
      groups.set(id, {
        id,
        title: `HTTP ${title}, ${framework}`,
        ...counts,
        http: { framework, scenario },
        rows: [],
      })
      const variants = scenario === 'a' ? IN_PROCESS_ONE_TOKEN[framework] : IN_PROCESS_FRESH
      for (const variant of quick ? (['ours'] as const) : variants) {
        plan.push({
          group: id,
          entry,
          tag: `${id}-${variant}`,
          label: `${framework} (${scenario}) ${variantLabel(framework, variant)}`,
          row: {
            contender: variant,
            name: variantLabel(framework, variant),
            role: roleOf(variant),
          },
          job: { framework, variant, publicKeyPem: m.verifyPem, tokens, ...counts },
        })
      }
    }
  }
  return plan
}

function microJob(entry: URL, group: string, job: InstructionJob): Planned {
  const row = { contender: job.contender, ...CONTENDER_NAMES[job.contender] }
  const tag = `${job.alg}-${job.contender}`
  return { group, entry, tag, label: `${job.alg} ${row.name}`, row, job }
}

/** Counts every contender of every group, `parallel` processes at a time. */
export async function runInstructions(opts: InstructionsOptions): Promise<InstructionsResult> {
  const tool = valgrindVersion()
  const nodeFlags = [...DETERMINISTIC_FLAGS]
  if (!tool) {
    const notRun = 'valgrind (with callgrind_control) is not installed'
    opts.log(`  not run: ${notRun}`)
    return { notRun, nodeFlags, groups: [], failures: [] }
  }
  const dir = mkdtempSync(join(tmpdir(), 'authframework-instructions-'))
  const groups = new Map<string, InstructionGroup & { rows: InstructionRow[] }>()
  const plan: Planned[] = []
  // 10,000 warm-up calls: with fewer, some of ours' functions are not yet optimised (2,000 left
  // HS256 at 124k instructions per call instead of 68k); the floor converges sooner
  const uncached = opts.quick ? { warmup: 300, measured: 100 } : { warmup: 10_000, measured: 2000 }
  const hits = { warmup: 10_000, measured: 20_000, pool: 500 }
  const algorithms: readonly Algorithm[] = opts.quick ? ['HS256'] : ALGORITHMS
  const uncachedContenders = opts.quick
    ? (['ours'] as const)
    : (['floor', 'fast-jwt', 'ours', 'ours-missing'] as const)
  try {
    for (const alg of algorithms) {
      const m = generateKeyMaterial(alg)
      const key = alg === 'HS256' ? (m.secret as string) : m.verifyPem
      const fresh = await signPool(m, uncached.warmup + uncached.measured)
      const id = `uncached-${alg}`
      groups.set(id, { id, title: `Uncached verification, ${alg}`, ...uncached, rows: [] })
      for (const contender of uncachedContenders)
        plan.push(microJob(opts.entry, id, { alg, contender, key, tokens: fresh, ...uncached }))
      if (!opts.quick && (alg === 'RS256' || alg === 'HS256')) {
        const hid = `cache-hit-${alg}`
        const pool = fresh.slice(0, hits.pool)
        groups.set(hid, {
          id: hid,
          title: `Cache hit, ${alg} (${hits.pool} tokens, cached during the warm-up)`,
          warmup: hits.warmup,
          measured: hits.measured,
          rows: [],
        })
        for (const contender of ['floor-hit', 'fast-jwt-hit', 'ours-hit'] as const) {
          plan.push(
            microJob(opts.entry, hid, {
              alg,
              contender,
              key,
              tokens: pool,
              warmup: hits.warmup,
              measured: hits.measured,
            }),
          )
        }
      }
    }
    if (opts.httpEntry) plan.push(...(await httpPlan(opts.httpEntry, opts.quick, groups)))
    const failures: string[] = []
    let next = 0
    const worker = async () => {
      while (next < plan.length) {
        const { group, entry, tag, label, row, job } = plan[next++] as Planned
        const rows = (groups.get(group) as { rows: InstructionRow[] }).rows
        try {
          const perCall = await count(entry, job, dir, tag)
          rows.push({ ...row, perCall })
          opts.log(
            `  ${label.padEnd(52)} ${Math.round(perCall).toLocaleString('en')} instructions/call`,
          )
        } catch (error) {
          const reason = error instanceof Error ? error.message : String(error)
          rows.push({ ...row, failed: reason })
          failures.push(`instructions ${label}: ${reason}`)
          opts.log(`  ${label.padEnd(52)} failed: ${reason}`)
        }
      }
    }
    await Promise.all(Array.from({ length: opts.parallel ?? 2 }, worker))
    // rows in plan order, whatever order the workers finished in
    for (const g of groups.values()) {
      const order = plan.filter((p) => p.group === g.id).map((p) => p.row.contender)
      g.rows.sort((a, b) => order.indexOf(a.contender) - order.indexOf(b.contender))
    }
    return { tool, nodeFlags, groups: [...groups.values()], failures }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** Instructions per call (HTTP groups: per request) of one row, if it was counted. */
export function instructionsOf(
  r: InstructionsResult | undefined,
  group: string,
  contender: ContenderId | VariantId,
): number | undefined {
  return r?.groups.find((g) => g.id === group)?.rows.find((row) => row.contender === contender)
    ?.perCall
}

/** Instructions per call of `a` over `b` in one group, if both were counted. */
export function instructionRatio(
  r: InstructionsResult | undefined,
  group: string,
  a: ContenderId | VariantId,
  b: ContenderId | VariantId,
): number | undefined {
  const x = instructionsOf(r, group, a)
  const y = instructionsOf(r, group, b)
  return x !== undefined && y !== undefined ? x / y : undefined
}
