/**
 * The micro-benchmark harness: paired, interleaved rounds, one call at a time (README: "Micro").
 * A hand-rolled harness rather than mitata's runner, because the comparisons we need are paired:
 * every round runs every contender of a group, interleaved, and ratios are taken within a round
 * before taking the median across rounds.
 */
import { hrtime } from 'node:process'
import { pairedRatio, roundOrder, type Summary, summarize } from './stats.js'

export type Role = 'floor' | 'ours' | 'peer'

export interface Contender {
  readonly name: string
  readonly role: Role
  /** Inputs walked in order, so that nothing can memoise one input. */
  readonly inputs: readonly string[]
  /** Sync contenders run in a plain loop; async ones are awaited one call at a time. */
  readonly run: (input: string) => unknown
  readonly async?: boolean
  /** Checks what one call returned; a contender that fails is reported, never timed. */
  readonly check: (result: unknown) => boolean
  /** Runs once before calibration (fills a cache). */
  readonly prime?: () => unknown
}

export interface ContenderResult {
  readonly name: string
  readonly role: Role
  /** µs per call, one value per round. */
  readonly rounds: readonly number[]
  readonly us: Summary
  /** Paired ratio to the group's floor (or its first contender). */
  readonly vsFloor: Summary
  /** Why it was not timed. */
  readonly skipped?: string
}

export interface GroupResult {
  readonly id: string
  readonly title: string
  readonly note: string
  readonly floor: string
  readonly contenders: readonly ContenderResult[]
}

export interface MicroOptions {
  readonly rounds: number
  readonly sampleMs: number
  readonly warmupMs: number
  readonly poolSize: number
}

/** Sub-batches per round and contender; the fastest one is the round's sample. */
const SUB_BATCHES = 4
/** Results land here so the optimiser cannot drop a call whose result is unused. */
let sink = 0

async function timeBatch(c: Contender, k: number, offset: number): Promise<number> {
  const { inputs, run } = c
  const n = inputs.length
  let ok = 0
  const t0 = hrtime.bigint()
  if (c.async) {
    for (let i = 0; i < k; i++) if (await run(inputs[(offset + i) % n] as string)) ok++
  } else {
    for (let i = 0; i < k; i++) if (run(inputs[(offset + i) % n] as string)) ok++
  }
  const ns = Number(hrtime.bigint() - t0)
  sink += ok
  return ns
}

async function problemOf(c: Contender): Promise<string | undefined> {
  try {
    await c.prime?.()
    const result = await c.run(c.inputs[0] as string)
    return c.check(result) ? undefined : 'failed its correctness check: unexpected result'
  } catch (error) {
    return `failed its correctness check: ${error instanceof Error ? error.message : String(error)}`
  }
}

/**
 * Times a group: every contender checked, warmed up and calibrated to a batch of ≈ `sampleMs`,
 * then `rounds` rounds of interleaved sub-batches. `skipped` lists contenders that could not be
 * built, with the reason.
 */
export async function runGroup(
  group: { id: string; title: string; note: string },
  contenders: readonly Contender[],
  skipped: readonly { name: string; role: Role; reason: string }[],
  opts: MicroOptions,
  log: (line: string) => void,
): Promise<GroupResult> {
  const live: Contender[] = []
  const failed = [...skipped]
  for (const c of contenders) {
    const problem = await problemOf(c)
    if (problem) failed.push({ name: c.name, role: c.role, reason: problem })
    else live.push(c)
  }
  const batch = new Map<Contender, number>()
  for (const c of live) {
    let k = 16
    let spent = 0
    let calls = 0
    while (spent < opts.warmupMs * 1e6) {
      spent += await timeBatch(c, k, calls)
      calls += k
      k = Math.min(k * 2, 1 << 20)
    }
    batch.set(c, Math.max(SUB_BATCHES, Math.round((opts.sampleMs * 1e6 * calls) / spent)))
  }
  // A round's sample of a contender is the fastest of its sub-batches: on a shared machine,
  // interference only ever adds time, and a sub-batch still spans many GC cycles. Sub-batches of
  // all contenders are interleaved (A B C, C B A, …) so that a slow spell falls on all of them.
  const samples = new Map<Contender, number[]>(live.map((c) => [c, []]))
  for (let r = 0; r < opts.rounds; r++) {
    const best = new Map<Contender, number>()
    for (let b = 0; b < SUB_BATCHES; b++) {
      for (const c of roundOrder(live, r * SUB_BATCHES + b)) {
        const k = Math.round((batch.get(c) as number) / SUB_BATCHES)
        const us = (await timeBatch(c, k, (r * SUB_BATCHES + b) * k)) / k / 1000
        best.set(c, Math.min(best.get(c) ?? Number.POSITIVE_INFINITY, us))
      }
    }
    for (const c of live) samples.get(c)?.push(best.get(c) as number)
  }
  const floor = live.find((c) => c.role === 'floor') ?? live[0]
  const base = floor ? (samples.get(floor) ?? []) : []
  const results: ContenderResult[] = live.map((c) => {
    const rounds = samples.get(c) ?? []
    return {
      name: c.name,
      role: c.role,
      rounds,
      us: summarize(rounds),
      vsFloor: pairedRatio(rounds, base),
    }
  })
  for (const f of failed)
    results.push({ ...f, rounds: [], us: summarize([]), vsFloor: summarize([]), skipped: f.reason })
  log(`  ${group.title}`)
  for (const r of results)
    log(
      `    ${r.name.padEnd(34)} ${r.skipped ? `skipped: ${r.skipped}` : `${r.us.median.toFixed(2).padStart(8)} µs  ×${r.vsFloor.median.toFixed(2)}`}`,
    )
  if (sink < 0) log(String(sink))
  return { ...group, floor: floor?.name ?? '', contenders: results }
}
