/**
 * One contender under `valgrind --tool=callgrind`: reads its job (a JSON file the parent wrote:
 * key, tokens), builds the verifier, runs the warm-up calls, says `READY` and waits for the parent
 * (which zeroes the counters meanwhile; `handshake.ts`), runs the measured calls, says `DONE` and
 * waits again (the parent dumps the counters), then exits. Runs no timing of its own.
 */
import { createPublicKey, createSecretKey, type KeyObject } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createFloorCache, createFloorVerifier } from '../floor.js'
import { authenticateRunner, DEFAULT_CACHE, loadCore, oursOptions } from '../ours.js'
import { fastJwt } from '../peers.js'
import type { Algorithm, KeyMaterial } from '../tokens.js'
import { measure, runChild, SETTLE_CALLS } from './handshake.js'

export type ContenderId =
  | 'floor'
  | 'fast-jwt'
  | 'ours'
  | 'ours-missing'
  | 'floor-hit'
  | 'fast-jwt-hit'
  | 'ours-hit'

export interface InstructionJob {
  readonly alg: Algorithm
  readonly contender: ContenderId
  /** SPKI PEM, or the HS256 secret. */
  readonly key: string
  readonly tokens: readonly string[]
  /** Calls before the counters are zeroed, and calls counted. Hits walk `tokens` again and again. */
  readonly warmup: number
  readonly measured: number
}

async function verifierFor(job: InstructionJob): Promise<(token: string) => unknown> {
  const { alg, contender, key } = job
  const verifyKey: KeyObject =
    alg === 'HS256' ? createSecretKey(Buffer.from(key, 'utf8')) : createPublicKey(key)
  const material = { alg, verifyKey, verifyPem: key, secret: key } as unknown as KeyMaterial
  switch (contender) {
    case 'floor':
      return createFloorVerifier(alg, verifyKey)
    case 'floor-hit':
      return createFloorCache(createFloorVerifier(alg, verifyKey), DEFAULT_CACHE.max)
    case 'fast-jwt':
      return fastJwt(material, false)
    case 'fast-jwt-hit':
      return fastJwt(material, DEFAULT_CACHE.max)
    default: {
      const loaded = await loadCore()
      if (!loaded.ok) throw new Error(loaded.reason)
      const cache =
        contender === 'ours'
          ? false
          : contender === 'ours-hit'
            ? DEFAULT_CACHE
            : // smaller than the tokens walked: full, so this is the steady state of a cache that keeps missing
              { max: 1000, maxTtlSeconds: DEFAULT_CACHE.maxTtlSeconds }
      return authenticateRunner(loaded.value.createAuth(oursOptions(material, cache)), job.tokens)
    }
  }
}

async function main(): Promise<void> {
  const job = JSON.parse(readFileSync(process.argv[2] as string, 'utf8')) as InstructionJob
  const verify = await verifierFor(job)
  const { tokens } = job
  const n = tokens.length
  await measure(job, SETTLE_CALLS.micro, (from, count) => {
    let ok = 0
    for (let i = from; i < from + count; i++) {
      const result = verify(tokens[i % n] as string) as { sub?: unknown } | undefined
      if (result instanceof Promise) throw new Error('a promise: not the synchronous path')
      if (typeof result?.sub === 'string') ok++
    }
    return ok
  })
}

runChild(main)
