/**
 * Native timing of one HTTP app (framework × variant) on in-memory connections (`in-memory.ts`),
 * each sending one request after the other: no kernel, no load generator on the same cores. What
 * is left is the server's own work per request, timed: after a warm-up, `batches` batches of
 * `batchSize` requests, each with its wall time and its process CPU time (user + system, all
 * threads, so V8's GC helpers count). Takes its job and answers over IPC (`runInChild`).
 */
import { cpuUsage, hrtime } from 'node:process'
import { serveOneJob } from '../child.js'
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
  readonly answered: number
}

async function time(job: InMemoryJob): Promise<{ timing: InMemoryTiming }> {
  const app = await openInMemory(job)
  let answered = await app.run(0, job.warmup)
  const wallUs: number[] = []
  const cpuUs: number[] = []
  for (let b = 0, from = job.warmup; b < job.batches; b++, from += job.batchSize) {
    const cpu0 = cpuUsage()
    const t0 = hrtime.bigint()
    answered += await app.run(from, job.batchSize)
    const wall = Number(hrtime.bigint() - t0) / 1e3
    const cpu = cpuUsage(cpu0)
    wallUs.push(wall / job.batchSize)
    cpuUs.push((cpu.user + cpu.system) / job.batchSize)
  }
  return { timing: { wallUs, cpuUs, answered } }
}

serveOneJob(time)
