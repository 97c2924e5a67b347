/**
 * Instruction counts of the micro-benchmark contenders under `valgrind --tool=callgrind`.
 *
 * Timings on a shared two-core machine move by ±30 % between rounds; an instruction count does
 * not. Each contender runs alone in its own process under callgrind, with V8 made deterministic
 * (one thread, fixed hash and random seeds, no memory reducer, a predictable GC schedule), so the
 * same code counts nearly the same instructions from run to run, whatever else the machine is
 * doing: within 0.05 % for every contender in two full runs but one (ours, RS256, uncached, which
 * moved by up to 5 % between runs, unexplained). The count is not time (a cache miss and a division cost
 * more than an add), but "does ours do more work than the floor or fast-jwt" becomes a question
 * with one answer. The counters are zeroed after the warm-up and read after the measured calls
 * (`callgrind_control`), so start-up and JIT warm-up are left out; the warm-up itself runs
 * uninstrumented.
 */
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { signPool } from '../sign-pool.js'
import { ALGORITHMS, type Algorithm, generateKeyMaterial } from '../tokens.js'
import type { ContenderId, InstructionJob } from './child.js'

/** V8 flags that make a run repeatable instruction for instruction. */
export const DETERMINISTIC_FLAGS = [
  '--single-threaded',
  '--hash-seed=1',
  '--random-seed=1',
  '--no-memory-reducer',
  '--predictable-gc-schedule',
] as const

const CONTENDER_NAMES: Record<ContenderId, { name: string; role: 'floor' | 'peer' | 'ours' }> = {
  floor: { name: 'floor (node:crypto)', role: 'floor' },
  'fast-jwt': { name: 'fast-jwt', role: 'peer' },
  ours: { name: 'ours (cache: false)', role: 'ours' },
  'ours-missing': { name: 'ours (cache full, every lookup misses)', role: 'ours' },
  'floor-hit': { name: 'floor (sha256 + lru get + exp)', role: 'floor' },
  'fast-jwt-hit': { name: 'fast-jwt (cache hit)', role: 'peer' },
  'ours-hit': { name: 'ours (cache hit)', role: 'ours' },
}

export interface InstructionRow {
  readonly contender: ContenderId
  readonly name: string
  readonly role: 'floor' | 'peer' | 'ours'
  /** Instructions per call over the measured calls. */
  readonly perCall?: number
  readonly failed?: string
}

export interface InstructionGroup {
  readonly id: string
  readonly title: string
  readonly warmup: number
  readonly measured: number
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
  readonly log: (line: string) => void
  /** Contenders counted at once (each is one busy process). */
  readonly parallel?: number
  /** Smoke run: ours on HS256 only, a few hundred calls: proves the harness runs, counts nothing useful. */
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

/** Runs one job under callgrind; resolves with instructions per measured call. */
function count(entry: URL, job: InstructionJob, dir: string): Promise<number> {
  const tag = `${job.alg}-${job.contender}`
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
        // the warm-up runs uninstrumented (several times faster); counting starts at READY
        '--instr-atstart=no',
        `--callgrind-out-file=${outFile}`,
        process.execPath,
        ...DETERMINISTIC_FLAGS,
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
          control('-z') // zero the counters
          child.stdin?.write('go\n')
        } else if (line.startsWith('DONE')) {
          ok = Number(line.slice(5))
          control('-d') // dump them
          child.stdin?.write('go\n')
        }
      } catch (error) {
        child.kill('SIGKILL')
        reject(error)
      }
    })
    child.once('exit', (code) => {
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
  readonly job: InstructionJob
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
        plan.push({ group: id, job: { alg, contender, key, tokens: fresh, ...uncached } })
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
          plan.push({
            group: hid,
            job: {
              alg,
              contender,
              key,
              tokens: pool,
              warmup: hits.warmup,
              measured: hits.measured,
            },
          })
        }
      }
    }
    const failures: string[] = []
    let next = 0
    const worker = async () => {
      while (next < plan.length) {
        const { group, job } = plan[next++] as Planned
        const label = `${job.alg} ${CONTENDER_NAMES[job.contender].name}`
        const row = { contender: job.contender, ...CONTENDER_NAMES[job.contender] }
        const rows = (groups.get(group) as { rows: InstructionRow[] }).rows
        try {
          const perCall = await count(opts.entry, job, dir)
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
      const order = plan.filter((p) => p.group === g.id).map((p) => p.job.contender)
      g.rows.sort((a, b) => order.indexOf(a.contender) - order.indexOf(b.contender))
    }
    return { tool, nodeFlags, groups: [...groups.values()], failures }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** Instructions per call of `a` over `b` in one group, if both were counted. */
export function instructionRatio(
  r: InstructionsResult | undefined,
  group: string,
  a: ContenderId,
  b: ContenderId,
): number | undefined {
  const rows = r?.groups.find((g) => g.id === group)?.rows
  const x = rows?.find((row) => row.contender === a)?.perCall
  const y = rows?.find((row) => row.contender === b)?.perCall
  return x !== undefined && y !== undefined ? x / y : undefined
}
