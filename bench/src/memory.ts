/** RSS per cached verification: one child process per (subject, size). */
import { runInChild } from './child.js'
import type { MemoryJob, MemoryReport, MemorySubject } from './memory-child.js'
import type { Algorithm } from './tokens.js'

export interface MemoryOptions {
  /** The bundled memory child (src/build.ts). */
  readonly entry: URL
  readonly sizes: readonly number[]
  readonly subjects: readonly MemorySubject[]
  readonly log: (line: string) => void
}

export interface MemoryResult {
  readonly options: Omit<MemoryOptions, 'log' | 'entry'>
  readonly reports: readonly MemoryReport[]
  readonly failures: readonly { subject: MemorySubject; entries: number; reason: string }[]
  readonly note?: string
}

async function runChild(entry: URL, job: MemoryJob): Promise<MemoryReport> {
  const answer = await runInChild<{ report: MemoryReport }>(entry, job, {
    execArgv: ['--expose-gc', '--max-old-space-size=4096'],
  })
  return answer.report
}

/**
 * Measures bytes per cached verification. HS256 tokens are used because they are cheap to sign
 * and verify (a million in seconds); the cache entry does not depend on the algorithm. If ours does
 * not cache HS256 (the entry size comes out implausibly small), ES256 is used for ours instead.
 */
export async function runMemory(opts: MemoryOptions): Promise<MemoryResult> {
  const reports: MemoryReport[] = []
  const failures: { subject: MemorySubject; entries: number; reason: string }[] = []
  let oursAlg: Algorithm = 'HS256'
  let note: string | undefined
  for (const entries of opts.sizes) {
    for (const subject of opts.subjects) {
      const alg = subject === 'ours' ? oursAlg : 'HS256'
      try {
        let report = await runChild(opts.entry, { subject, entries, alg })
        if (subject === 'ours' && alg === 'HS256' && report.heapDeltaBytes / entries < 64) {
          oursAlg = 'ES256'
          note =
            'ours did not appear to cache HS256 verifications, so its cache was filled with ES256 tokens.'
          report = await runChild(opts.entry, { subject, entries, alg: oursAlg })
        }
        reports.push(report)
        opts.log(
          `  ${subject.padEnd(9)} ${String(entries).padStart(8)} entries (${report.alg}): ` +
            `${(report.rssDeltaBytes / entries).toFixed(0)} B RSS, ${(report.heapDeltaBytes / entries).toFixed(0)} B heap per entry, ` +
            `RSS ${(report.rssAfterBytes / 2 ** 20).toFixed(0)} MiB, filled in ${report.seconds.toFixed(1)} s`,
        )
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error)
        failures.push({ subject, entries, reason })
        opts.log(`  ${subject} ${entries}: failed: ${reason}`)
      }
    }
  }
  const { log: _log, entry: _entry, ...rest } = opts
  return { options: rest, reports, failures, ...(note ? { note } : {}) }
}
