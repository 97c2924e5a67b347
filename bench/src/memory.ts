/**
 * Bytes per cached verification: one child process per cache (ours, the floor, fast-jwt), run at
 * the same time (they measure memory, not time), each filling its cache with N distinct tokens.
 */
import { runInChild } from './child.js'
import type { MemoryJob, MemoryReport } from './memory-child.js'

export interface MemoryResult {
  readonly entries: number
  readonly reports: readonly MemoryReport[]
  readonly failures: readonly string[]
}

export async function runMemory(
  entry: URL,
  entries: number,
  log: (line: string) => void,
): Promise<MemoryResult> {
  const subjects = ['ours', 'floor', 'fast-jwt'] as const
  const outcomes = await Promise.allSettled(
    subjects.map((subject) =>
      runInChild<{ report: MemoryReport }>(entry, { subject, entries } satisfies MemoryJob, {
        execArgv: ['--expose-gc', '--max-old-space-size=4096'],
      }),
    ),
  )
  const reports: MemoryReport[] = []
  const failures: string[] = []
  outcomes.forEach((outcome, i) => {
    if (outcome.status === 'rejected') {
      failures.push(`memory ${subjects[i]}: ${(outcome.reason as Error).message}`)
      return
    }
    const r = outcome.value.report
    reports.push(r)
    log(
      `  ${r.subject.padEnd(9)} ${entries} entries: ${(r.rssDeltaBytes / entries).toFixed(0)} B RSS, ${(r.heapDeltaBytes / entries).toFixed(0)} B heap per entry`,
    )
  })
  return { entries, reports, failures }
}
