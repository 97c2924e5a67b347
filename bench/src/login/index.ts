/** The login part: `authenticateUser` at the core's Argon2id parameters, in its own process. */
import { runInChild } from '../child.js'
import type { StoreConfig } from '../services.js'
import { median } from '../stats.js'
import type { Argon2Params, LoginJob, LoginResult } from './child.js'

export type { LoginResult }

/**
 * Argon2id parameter sets whose verification cost is measured beside ours: OWASP's other four
 * configurations of equal defense, RFC 9106's second recommended option, and cheaper sets below
 * OWASP's minimum (what a faster login would cost).
 */
export const SWEEP: readonly Argon2Params[] = [
  { label: 'ours = OWASP (19 MiB, t=2)', memoryKiB: 19_456, iterations: 2, parallelism: 1 },
  { label: 'OWASP (46 MiB, t=1)', memoryKiB: 47_104, iterations: 1, parallelism: 1 },
  { label: 'OWASP (12 MiB, t=3)', memoryKiB: 12_288, iterations: 3, parallelism: 1 },
  { label: 'OWASP (9 MiB, t=4)', memoryKiB: 9_216, iterations: 4, parallelism: 1 },
  { label: 'OWASP (7 MiB, t=5)', memoryKiB: 7_168, iterations: 5, parallelism: 1 },
  {
    label: 'RFC 9106 second option (64 MiB, t=3, p=4)',
    memoryKiB: 65_536,
    iterations: 3,
    parallelism: 4,
  },
  { label: 'below OWASP (19 MiB, t=1)', memoryKiB: 19_456, iterations: 1, parallelism: 1 },
  { label: 'below OWASP (8 MiB, t=1)', memoryKiB: 8_192, iterations: 1, parallelism: 1 },
  { label: 'below OWASP (2 MiB, t=1)', memoryKiB: 2_048, iterations: 1, parallelism: 1 },
]

export async function runLogin(
  entry: URL,
  store: StoreConfig,
  quick: boolean,
  log: (line: string) => void,
): Promise<LoginResult> {
  const job: LoginJob = quick
    ? { store, rounds: 1, seconds: 0.2, minCalls: 4, sweep: SWEEP.slice(0, 2) }
    : { store, rounds: 3, seconds: 2, minCalls: 10, sweep: SWEEP }
  const { result } = await runInChild<{ result: LoginResult }>(entry, job, { timeoutMs: 300_000 })
  for (const s of result.samples)
    log(
      `  round ${s.round + 1} ${s.kind.padEnd(5)} ${s.inFlight} in flight: ${(s.calls / s.wallS).toFixed(0)}/s, p50 ${s.p50Ms.toFixed(1)} ms, p99 ${s.p99Ms.toFixed(1)} ms, ${(s.cpuUs / 1000).toFixed(2)} ms CPU per call${s.failed ? `, ${s.failed} failed` : ''}`,
    )
  for (const r of result.sweep)
    log(`  ${r.label.padEnd(44)} ${median(r.cpuMs).toFixed(2)} ms CPU per verification`)
  return result
}
