/**
 * Memory child (run with --expose-gc): fills one verification cache with N distinct verified
 * tokens and reports the RSS and heap growth per entry. One cache per process, so the baseline is
 * clean. Tokens are signed on the fly and dropped; only what the cache keeps stays alive.
 */

import { serveOneJob } from './child.js'
import { createFloorCache, createFloorVerifier } from './floor.js'
import { loadCore, oursOptions } from './ours.js'
import { fastJwt } from './peers.js'
import { claimsFor, generateKeyMaterial, type KeyMaterial, signToken } from './tokens.js'

export type MemorySubject = 'ours' | 'floor' | 'fast-jwt'

export interface MemoryJob {
  readonly subject: MemorySubject
  readonly entries: number
}

export interface MemoryReport {
  readonly subject: MemorySubject
  readonly entries: number
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

/** HS256 tokens: cheap to sign a million of; a cache entry does not depend on the algorithm. */
async function verifierFor(job: MemoryJob, key: KeyMaterial) {
  const ttl = 3600
  if (job.subject === 'ours') {
    const auth = (await loadCore()).createAuth(
      oursOptions(key, { max: job.entries, maxTtlSeconds: ttl }),
    )
    return (t: string) => auth.verify(t)
  }
  if (job.subject === 'floor')
    return createFloorCache(createFloorVerifier('HS256', key.verifyKey), job.entries)
  const fj = fastJwt(key, job.entries, ttl * 1000)
  return (t: string) => fj(t)
}

async function measure(job: MemoryJob): Promise<MemoryReport> {
  const key = generateKeyMaterial('HS256')
  const verify = await verifierFor(job, key)
  const now = Math.floor(Date.now() / 1000)
  // Warm the code paths with tokens outside the measured range, then take the baseline.
  for (let i = 0; i < 200; i++)
    await verify(signToken('HS256', key.signKey, claimsFor(job.entries + 10 + i, now)))
  const before = settle()
  const t0 = performance.now()
  for (let i = 0; i < job.entries; i++) {
    await verify(signToken('HS256', key.signKey, claimsFor(i, now)))
  }
  const seconds = (performance.now() - t0) / 1000
  const after = settle()
  // Keep the verifier (and so its cache) reachable until after the last measurement.
  if (typeof verify !== 'function') throw new Error('unreachable')
  return {
    subject: job.subject,
    entries: job.entries,
    rssDeltaBytes: after.rss - before.rss,
    heapDeltaBytes: after.heapUsed + after.external - (before.heapUsed + before.external),
    rssAfterBytes: after.rss,
    seconds,
  }
}

serveOneJob(async (job: MemoryJob) => ({ report: await measure(job) }))
