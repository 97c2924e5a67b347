/**
 * The HTTP apps timed natively on in-memory connections (`in-memory-child.ts`): the server's own
 * CPU per request, without the kernel's socket work and without a load generator on the same two
 * cores. Each app runs alone in a fresh process, variants in an order that rotates each round;
 * differences and ratios to bare are paired within a round.
 */
import { runInChild } from '../child.js'
import { roundOrder } from '../stats.js'
import type { InMemoryJob, InMemoryTiming } from './in-memory-child.js'
import { type AppConfig, type Framework, rotates, type VariantId } from './variants.js'

export interface InMemorySample {
  readonly round: number
  readonly framework: Framework
  readonly variant: VariantId
  /** The child's fastest batch: process CPU µs per request (interference only adds time). */
  readonly cpuUs: number
}

export interface InMemoryCounts {
  /** Requests before timing (at least one walk of the pool), then the timed batches. */
  readonly warmup: number
  readonly batches: number
  readonly batchSize: number
}

export interface InMemoryResult {
  readonly rounds: number
  readonly connections: number
  readonly counts: InMemoryCounts
  readonly samples: readonly InMemorySample[]
  readonly failures: readonly string[]
}

export interface InMemoryOptions {
  readonly entry: URL
  readonly frameworks: readonly Framework[]
  readonly variants: readonly VariantId[]
  readonly rounds: number
  readonly counts: InMemoryCounts
  readonly publicKeyPem: string
  readonly one: string
  readonly pool: readonly string[]
  readonly store?: AppConfig['store']
  readonly log: (line: string) => void
}

/** In-memory connections per app: as many as autocannon opens. */
const CONNECTIONS = 50

export async function runInMemory(opts: InMemoryOptions): Promise<InMemoryResult> {
  const samples: InMemorySample[] = []
  const failures: string[] = []
  for (let round = 0; round < opts.rounds; round++) {
    for (const framework of opts.frameworks) {
      const cells: string[] = []
      for (const variant of roundOrder(opts.variants, round)) {
        const job: InMemoryJob = {
          app: { framework, variant, publicKeyPem: opts.publicKeyPem, store: opts.store },
          tokens: rotates(variant) ? opts.pool : [opts.one],
          connections: CONNECTIONS,
          ...opts.counts,
        }
        try {
          const { timing } = await runInChild<{ timing: InMemoryTiming }>(opts.entry, job, {
            timeoutMs: 120_000,
          })
          const expected = job.warmup + job.batches * job.batchSize
          if (timing.answered !== expected)
            throw new Error(`${timing.answered} of ${expected} requests answered 200`)
          const cpuUs = Math.min(...timing.cpuUs)
          samples.push({ round, framework, variant, cpuUs })
          cells.push(`${variant} ${cpuUs.toFixed(1)}`)
        } catch (error) {
          failures.push(`in-memory ${framework}/${variant}: ${(error as Error).message}`)
          cells.push(`${variant} failed`)
        }
      }
      opts.log(
        `  round ${round + 1}/${opts.rounds}, ${framework}, µs CPU/request: ${cells.join(', ')}`,
      )
    }
  }
  const { rounds, counts } = opts
  return { rounds, connections: CONNECTIONS, counts, samples, failures }
}
