/**
 * Shared set-up of the revocation tests: "instances" are pairs of a distributed revocation list
 * (with its own Redis client, directly or through a proxy) and a `createAuth`, all verifying the
 * tokens of one signer, on one per-file schema and Redis key prefix.
 */
import { deflateRawSync } from 'node:zlib'
import { connectRedis } from '@authframework/test-support/services'
import type { Redis } from 'ioredis'
import type pg from 'pg'
import { type AuthError, createAuth, createSigner } from '../../src/index.js'
import {
  createRevocationList,
  type DistributedRevocationList,
  type RevocationListOptions,
} from '../../src/revocation/index.js'

export const ISS = 'https://issuer.example'
export const AUD = 'orders-api'

/** Milliseconds added to the signer's clock (to issue tokens "in the past"). */
let signerOffsetMs = 0
export const signer = createSigner({
  algorithm: 'ES256',
  issuer: ISS,
  audience: AUD,
  compressAboveBytes: false,
  clock: () => Date.now() + signerOffsetMs,
})

/** Signs a token as if issued `secondsAgo` seconds ago. */
export function tokenIssued(secondsAgo: number, claims: { sub: string; jti?: string }): string {
  signerOffsetMs = -secondsAgo * 1000
  try {
    return signer.sign(claims)
  } finally {
    signerOffsetMs = 0
  }
}

export function compressedForm(token: string): string {
  return `compressed:${deflateRawSync(token).toString('base64url')}`
}

/** Resolves 'ok' or the `AuthError` code. */
export const codeOf = (p: Promise<unknown>): Promise<string> =>
  p.then(
    () => 'ok',
    (e: AuthError) => e.code,
  )

export interface Instance {
  readonly list: DistributedRevocationList
  readonly auth: ReturnType<typeof createAuth>
  readonly redis: Redis
}

/** One "instance": its own Redis client (at `url`), its list, its auth. Closed by the returned cleanup list. */
export async function startInstance(
  pool: pg.Pool,
  keyPrefix: string,
  cleanup: Array<() => unknown>,
  options: Partial<RevocationListOptions> & { url?: string; wait?: boolean } = {},
): Promise<Instance> {
  const { url, wait = true, ...listOptions } = options
  const redis = await connectRedis(url) // by default the Redis of this run (a single one or a Cluster)
  const list = createRevocationList({ redis, pool, keyPrefix, ...listOptions })
  const auth = createAuth({
    publicKey: signer.publicKey!,
    issuer: ISS,
    audience: AUD,
    revocation: list,
  })
  cleanup.push(async () => {
    await auth.close()
    redis.disconnect()
  })
  if (wait) await list.ready()
  return { list, auth, redis }
}

/** Polls `check` (yielding to I/O between tries) until it is true; resolves the elapsed ms. */
export async function until(check: () => Promise<boolean>, timeoutMs = 5000): Promise<number> {
  const start = performance.now()
  for (;;) {
    if (await check()) return performance.now() - start
    if (performance.now() - start > timeoutMs) throw new Error(`not true within ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 1))
  }
}

/** Whether every bucket of the list's denylist is marked complete (one `EXISTS` per marker: any slot). */
export async function denylistComplete(
  redis: Pick<Redis, 'exists'>,
  list: Pick<DistributedRevocationList, 'markers'>,
): Promise<boolean> {
  const found = await Promise.all(list.markers.map((marker) => redis.exists(marker)))
  return found.every((n) => n === 1)
}
