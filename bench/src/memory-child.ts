/**
 * Memory child (run with --expose-gc): fills one verification cache with N distinct verified
 * tokens and reports the RSS and heap growth per entry. One cache per process, so the baseline is
 * clean. Tokens are signed on the fly and dropped; only what the cache keeps stays alive.
 */

import { createVerifier } from 'fast-jwt'
import { serveOneJob } from './child.js'
import { createFloorCache, createFloorVerifier } from './floor.js'
import { loadCore } from './ours.js'
import {
  type Algorithm,
  AUDIENCE,
  claimsFor,
  generateKeyMaterial,
  ISSUER,
  signToken,
} from './tokens.js'

export type MemorySubject = 'ours' | 'floor' | 'fast-jwt'

export interface MemoryJob {
  readonly subject: MemorySubject
  readonly entries: number
  readonly alg: Algorithm
}

export interface MemoryReport {
  readonly subject: MemorySubject
  readonly entries: number
  readonly alg: Algorithm
  readonly rssDeltaBytes: number
  readonly heapDeltaBytes: number
  readonly rssAfterBytes: number
  readonly seconds: number
}

const gc = (globalThis as { gc?: () => void }).gc

function settle(): NodeJS.MemoryUsage {
  for (let i = 0; i < 4; i++) gc?.()
  return process.memoryUsage()
}

async function verifierFor(job: MemoryJob, key: ReturnType<typeof generateKeyMaterial>) {
  const ttl = 3600
  if (job.subject === 'ours') {
    const core = await loadCore()
    if (!core.ok) throw new Error(core.reason)
    const auth = core.value.createAuth({
      algorithms: [job.alg],
      ...(job.alg === 'HS256' ? { secret: key.secret } : { publicKey: key.verifyPem }),
      issuer: ISSUER,
      audience: AUDIENCE,
      cache: { max: job.entries, maxTtlSeconds: ttl },
    })
    return (t: string) => auth.verify(t)
  }
  if (job.subject === 'floor') {
    const cached = createFloorCache(createFloorVerifier(job.alg, key.verifyKey), job.entries)
    return (t: string) => cached(t)
  }
  const fj = createVerifier({
    key: job.alg === 'HS256' ? (key.secret as string) : key.verifyPem,
    algorithms: [job.alg] as never,
    allowedIss: ISSUER,
    allowedAud: AUDIENCE,
    cache: job.entries,
    cacheTTL: ttl * 1000,
  })
  return (t: string) => fj(t)
}

async function measure(job: MemoryJob): Promise<MemoryReport> {
  const key = generateKeyMaterial(job.alg)
  const verify = await verifierFor(job, key)
  const now = Math.floor(Date.now() / 1000)
  // Warm the code paths with tokens outside the measured range, then take the baseline.
  const warm = await Promise.all(
    Array.from({ length: 200 }, (_, i) =>
      signToken(job.alg, key.signKey, claimsFor(job.entries + 10 + i, now)),
    ),
  )
  for (const t of warm) await verify(t)
  warm.length = 0
  const before = settle()
  const t0 = performance.now()
  for (let i = 0; i < job.entries; i++) {
    await verify(signToken(job.alg, key.signKey, claimsFor(i, now)))
  }
  const seconds = (performance.now() - t0) / 1000
  const after = settle()
  // Keep the verifier (and so its cache) reachable until after the last measurement.
  if (typeof verify !== 'function') throw new Error('unreachable')
  return {
    subject: job.subject,
    entries: job.entries,
    alg: job.alg,
    rssDeltaBytes: after.rss - before.rss,
    heapDeltaBytes: after.heapUsed + after.external - (before.heapUsed + before.external),
    rssAfterBytes: after.rss,
    seconds,
  }
}

serveOneJob(async (job: MemoryJob) => ({ report: await measure(job) }))
