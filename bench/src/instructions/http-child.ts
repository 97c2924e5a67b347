/**
 * One HTTP app (framework × variant) under `valgrind --tool=callgrind`, without a network
 * (`../http/in-memory.ts`): one request at a time on one in-memory keep-alive connection, so
 * only the kernel and the load generator are left out, and with them what made counts of the
 * listening server move by ±5–8 % between identical runs. Same protocol as `child.ts`
 * (`handshake.ts`): warm-up, `READY`, measured requests, `DONE <ok>`, exit.
 */
import { readFileSync } from 'node:fs'
import { type InMemoryAppSpec, openInMemory } from '../http/in-memory.js'
import { measure, runChild, SETTLE_CALLS } from './handshake.js'

export interface HttpInstructionJob extends InMemoryAppSpec {
  readonly warmup: number
  readonly measured: number
}

async function main(): Promise<void> {
  const job = JSON.parse(readFileSync(process.argv[2] as string, 'utf8')) as HttpInstructionJob
  const app = await openInMemory(job)
  await measure(job, SETTLE_CALLS.http, (from, count) => app.run(from, count))
}

runChild(main)
