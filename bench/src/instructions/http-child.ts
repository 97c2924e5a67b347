/**
 * One HTTP app (framework × variant) under `valgrind --tool=callgrind`, without a network
 * (`../http/in-memory.ts`): one request at a time on one in-memory keep-alive connection, so
 * only the kernel and the load generator are left out, and with them what made counts of the
 * listening server move by ±5–8 % between identical runs. Same protocol as `child.ts`
 * (`handshake.ts`): warm-up, `READY`, measured requests, `DONE <ok>`, exit.
 */
import { readFileSync } from 'node:fs'
import { openInMemory } from '../http/in-memory.js'
import type { Framework, VariantId } from '../http/variants.js'
import { measure, runChild, SETTLE_CALLS } from './handshake.js'

export interface HttpInstructionJob {
  readonly framework: Framework
  readonly variant: VariantId
  readonly publicKeyPem: string
  /** Request `i` carries `tokens[i % tokens.length]`. */
  readonly tokens: readonly string[]
  readonly warmup: number
  readonly measured: number
  /** In-memory connections, each sending one request after the other (default 1). */
  readonly connections?: number
}

async function main(): Promise<void> {
  const job = JSON.parse(readFileSync(process.argv[2] as string, 'utf8')) as HttpInstructionJob
  const app = await openInMemory(
    job.framework,
    job.variant,
    job.publicKeyPem,
    job.tokens,
    job.connections,
  )
  await measure(job, SETTLE_CALLS.http, (from, count) => app.run(from, count))
}

runChild(main)
