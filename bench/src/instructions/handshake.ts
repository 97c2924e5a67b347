/**
 * The children's side of the counting protocol, and where the counted span begins and ends.
 *
 * The warm-up runs uninstrumented. The child then says `READY` and waits for the parent's
 * `SIGUSR2` (the parent switches instrumentation on meanwhile). Saying so and being answered
 * touches code the warm-up never ran (a signal listener on `process`, a tick from a signal), and
 * V8 deoptimises and recompiles a few shared functions in the next hundreds of calls (≈ 20
 * TurboFan compilations, ≈ 200M instructions, seen with a line on stdin as the go-ahead, and half
 * that with the signal). So the child runs a few hundred more calls to settle, and only then opens
 * the counted span, with no I/O at all: `os.uptime()` and `os.loadavg()`, whose native functions
 * callgrind is told to zero the counters before and to dump them before
 * (`--zero-before`, `--dump-before`; `SPAN_FLAGS`). Nothing else in the children calls either.
 */
import { writeSync } from 'node:fs'
import { loadavg, uptime } from 'node:os'

/** callgrind options that make `countFrom()` and `countTo()` the ends of the counted span. */
export const SPAN_FLAGS = [
  '--zero-before=node::os::GetUptime*',
  '--dump-before=node::os::GetLoadAvg*',
] as const

/**
 * Calls run after the go-ahead and before the counted span. An HTTP app needs more: the
 * recompilations after the go-ahead were over within 3,000 requests (`--trace-opt`), and with
 * 20,000 warm-up requests none started inside the span.
 */
export const SETTLE_CALLS = { micro: 500, http: 3000 } as const

/** After the warm-up: resolves once instrumentation is on. */
function ready(): Promise<void> {
  const go = new Promise<void>((resolve) => {
    // a signal listener does not keep Node running; the micro child has nothing else that does
    const alive = setInterval(() => {}, 60_000)
    process.once('SIGUSR2', () => {
      clearInterval(alive)
      resolve()
    })
  })
  writeSync(1, 'READY\n')
  return go
}

/** Zeroes the counters (callgrind: `--zero-before`). */
function countFrom(): void {
  uptime()
}

/** Dumps the counters (callgrind: `--dump-before`). */
function countTo(): void {
  loadavg()
}

/** The last line: how many of all the calls succeeded. The child exits after it. */
function done(ok: number): void {
  writeSync(1, `DONE ${ok}\n`)
}

/**
 * The whole protocol for `warmup + measured` calls of `run(from, count)` (which returns how many
 * of its calls succeeded): the warm-up less `settle` calls uninstrumented, `READY`, the `settle`
 * calls, the counted span around the measured calls, `DONE <ok>`, exit.
 */
export async function measure(
  job: { readonly warmup: number; readonly measured: number },
  settleCalls: number,
  run: (from: number, count: number) => number | Promise<number>,
): Promise<never> {
  const settle = Math.min(settleCalls, Math.floor(job.warmup / 2))
  let ok = await run(0, job.warmup - settle)
  await ready()
  ok += await run(job.warmup - settle, settle)
  countFrom()
  ok += await run(job.warmup, job.measured)
  countTo()
  done(ok)
  process.exit(0)
}

/** Runs a child's `main`; any failure is one line on stderr and exit code 1. */
export function runChild(main: () => Promise<unknown>): void {
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`)
    process.exit(1)
  })
}
