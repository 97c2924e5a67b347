/**
 * The HTTP apps timed natively on in-memory connections (`in-memory-child.ts`): the server's own
 * CPU per request, without the kernel's socket work and without a load generator competing for
 * the same two cores.
 *
 * Why a second view of the HTTP part: with autocannon on the same machine, the server's CPU per
 * request moves by ±15 µs between rounds (the no-op control spans −16 to +19 µs), three times the
 * 5 µs the goal for scenario (a) is about. The kernel's part of a request is the same for every
 * variant (same request bytes, same response bytes, one `writev` each), so leaving it out changes
 * no difference between variants, and what is left repeats far better. Each app runs alone in a
 * fresh process, variants alternate within each round (`roundOrder`), and every figure is a
 * median over rounds with its range; differences and ratios are paired within a round.
 */
import { runInChild } from '../child.js'
import { signPool } from '../sign-pool.js'
import { median, pairedDelta, pairedRatio, roundOrder, type Summary, summarize } from '../stats.js'
import { generateKeyMaterial, signTokens } from '../tokens.js'
import type { InMemoryJob, InMemoryTiming } from './in-memory-child.js'
import {
  type Framework,
  IN_PROCESS_FRESH,
  IN_PROCESS_ONE_TOKEN,
  type VariantId,
  variantLabel,
} from './variants.js'

export interface InMemorySample {
  readonly round: number
  readonly framework: Framework
  readonly scenario: 'a' | 'c'
  readonly variant: VariantId
  /** Median over the child's batches: process CPU µs per request (all threads). */
  readonly cpuUs: number
  /** Median over the child's batches: wall-clock µs per request. */
  readonly wallUs: number
}

export interface InMemoryResult {
  readonly rounds: number
  readonly connections: number
  /** Per scenario: requests before timing, and the timed batches. */
  readonly counts: Readonly<
    Record<'a' | 'c', { warmup: number; batches: number; batchSize: number }>
  >
  readonly samples: readonly InMemorySample[]
  readonly failures: readonly string[]
}

export interface InMemoryOptions {
  readonly entry: URL
  readonly frameworks: readonly Framework[]
  readonly rounds: number
  /** Smoke run: Fastify (a), bare and ours, a few hundred requests. */
  readonly quick?: boolean
  readonly log: (line: string) => void
}

/** In-memory connections per app: as many as the HTTP part's autocannon opens. */
const CONNECTIONS = 50
/** A child that has not answered in this long is killed. */
const CHILD_TIMEOUT_MS = 120_000

/** Times every app of (a) and (c) on every framework, `rounds` times, variants alternating. */
export async function runInMemory(opts: InMemoryOptions): Promise<InMemoryResult> {
  const material = generateKeyMaterial('RS256')
  const counts = opts.quick
    ? {
        a: { warmup: 300, batches: 2, batchSize: 100 },
        c: { warmup: 0, batches: 0, batchSize: 0 },
      }
    : {
        // 20,000 requests before timing in (a), as for the instruction counts: by then the
        // apps' hot functions are compiled (`--trace-opt`); (c) needs a token per request, and
        // with 3,000 bare Fastify was still at 19 µs where it settles at 11
        a: { warmup: 20_000, batches: 10, batchSize: 2000 },
        c: { warmup: 10_000, batches: 10, batchSize: 500 },
      }
  const one = signTokens(material, 1, 0)
  const freshCount = counts.c.warmup + counts.c.batches * counts.c.batchSize
  const fresh = freshCount > 0 ? await signPool(material, freshCount, 1) : []
  const plan = (['a', 'c'] as const).flatMap((scenario) =>
    opts.quick && scenario === 'c'
      ? []
      : (opts.quick ? (['fastify'] as const) : opts.frameworks).map((framework) => ({
          scenario,
          framework,
          variants: opts.quick
            ? (['bare', 'ours'] as const)
            : scenario === 'a'
              ? IN_PROCESS_ONE_TOKEN[framework]
              : IN_PROCESS_FRESH,
        })),
  )
  const samples: InMemorySample[] = []
  const failures: string[] = []
  for (let round = 0; round < opts.rounds; round++) {
    opts.log(`  round ${round + 1}/${opts.rounds}`)
    for (const { scenario, framework, variants } of plan) {
      const cells: string[] = []
      for (const variant of roundOrder(variants, round)) {
        const label = `${framework} (${scenario}) ${variantLabel(framework, variant)}`
        const job: InMemoryJob = {
          framework,
          variant,
          publicKeyPem: material.verifyPem,
          tokens: scenario === 'a' ? one : fresh,
          connections: CONNECTIONS,
          ...counts[scenario],
        }
        try {
          const { timing: t } = await runInChild<{ timing: InMemoryTiming }>(opts.entry, job, {
            timeoutMs: CHILD_TIMEOUT_MS,
          })
          const expected = job.warmup + job.batches * job.batchSize
          if (t.answered !== expected)
            throw new Error(`${t.answered} of ${expected} requests answered 200`)
          const sample = {
            round,
            framework,
            scenario,
            variant,
            cpuUs: median(t.cpuUs),
            wallUs: median(t.wallUs),
          }
          samples.push(sample)
          cells.push(`${variant} ${sample.cpuUs.toFixed(1)}`)
        } catch (error) {
          const reason = error instanceof Error ? error.message : String(error)
          failures.push(`in-memory ${label}, round ${round + 1}: ${reason}`)
          cells.push(`${variant} failed`)
        }
      }
      opts.log(`    ${framework} (${scenario}) µs CPU/request: ${cells.join(', ')}`)
    }
  }
  return { rounds: opts.rounds, connections: CONNECTIONS, counts, samples, failures }
}

/** One app's figures, each paired within a round with bare or ours. */
export interface InMemoryCell {
  /** CPU µs per request. */
  readonly cpuUs: Summary
  /** This − bare, µs. */
  readonly overBare: Summary
  /** Bare ÷ this: the share of bare's throughput this keeps, if CPU bounds it. */
  readonly keepsOfBare: Summary
  /** This ÷ ours: how many times ours' throughput this is, if CPU bounds it. */
  readonly vsOurs: Summary
}

export function inMemoryCell(
  r: InMemoryResult | undefined,
  framework: Framework,
  scenario: 'a' | 'c',
  variant: VariantId,
): InMemoryCell | undefined {
  const cpu = inMemorySeries(r, framework, scenario, variant)
  if (!cpu.some(Number.isFinite)) return undefined
  const bare = inMemorySeries(r, framework, scenario, 'bare')
  const ours = inMemorySeries(r, framework, scenario, 'ours')
  return {
    cpuUs: summarize(cpu),
    overBare: pairedDelta(cpu, bare),
    keepsOfBare: pairedRatio(bare, cpu),
    vsOurs: pairedRatio(cpu, ours),
  }
}

/** The per-round CPU µs of one app, in round order (NaN where a round failed). */
export function inMemorySeries(
  r: InMemoryResult | undefined,
  framework: Framework,
  scenario: 'a' | 'c',
  variant: VariantId,
): number[] {
  if (!r) return []
  return Array.from({ length: r.rounds }, (_, round) => {
    const s = r.samples.find(
      (x) =>
        x.round === round &&
        x.framework === framework &&
        x.scenario === scenario &&
        x.variant === variant,
    )
    return s ? s.cpuUs : Number.NaN
  })
}
