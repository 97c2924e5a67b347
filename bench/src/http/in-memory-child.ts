/**
 * Native timing of one HTTP app (framework × variant) on an in-memory connection
 * (`in-memory.ts`): no kernel, no load generator on the same cores, one request at a time. What
 * is left is the server's own work per request, timed: after a warm-up, `batches` batches of
 * `batchSize` requests, each with its wall time and its process CPU time (user + system, all
 * threads, so V8's GC helpers count). Prints one line, `RESULT <json>` (`InMemoryTiming`).
 */
import { readFileSync, writeSync } from 'node:fs'
import { cpuUsage, hrtime } from 'node:process'
import { runChild } from '../instructions/handshake.js'
import { type InMemoryAppSpec, openInMemory } from './in-memory.js'

export interface InMemoryJob extends InMemoryAppSpec {
  readonly warmup: number
  readonly batches: number
  readonly batchSize: number
}

export interface InMemoryTiming {
  /** Per batch: wall-clock µs per request. */
  readonly wallUs: readonly number[]
  /** Per batch: process CPU µs per request (user + system, all threads). */
  readonly cpuUs: readonly number[]
  /** Requests answered 200, warm-up included. */
  readonly ok: number
}

async function main(): Promise<void> {
  const job = JSON.parse(readFileSync(process.argv[2] as string, 'utf8')) as InMemoryJob
  const app = await openInMemory(job)
  let ok = await app.run(0, job.warmup)
  const wallUs: number[] = []
  const cpuUs: number[] = []
  for (let b = 0, from = job.warmup; b < job.batches; b++, from += job.batchSize) {
    const cpu0 = cpuUsage()
    const t0 = hrtime.bigint()
    ok += await app.run(from, job.batchSize)
    const wall = Number(hrtime.bigint() - t0) / 1e3
    const cpu = cpuUsage(cpu0)
    wallUs.push(wall / job.batchSize)
    cpuUs.push((cpu.user + cpu.system) / job.batchSize)
  }
  const result: InMemoryTiming = { wallUs, cpuUs, ok }
  writeSync(1, `RESULT ${JSON.stringify(result)}\n`)
  process.exit(0)
}

runChild(main)
