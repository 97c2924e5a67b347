/**
 * Revocations with the change log: a token revoked on an instance whose Redis is cut, stalled or
 * black-holed is refused by the others within 1 s (the log in PostgreSQL carries it, not Redis),
 * in local and in strict mode; and the revoking instance refuses it too.
 */

import {
  countQueries,
  createTestSchema,
  endpointOf,
  REDIS_URL,
  runId,
  type TestSchema,
  viaProxy,
} from '@authframework/test-support/services'
import { startTcpProxy, type TcpProxy } from '@authframework/test-support/tcp-proxy'
import type pg from 'pg'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { type ChangeLog, createChangeLog, migrate, REVOCATION_STATEMENTS } from '../../src/index.js'
import { redisReady } from '../../src/infra/redis.js'
import { tokenHashOf } from '../../src/revocation/keys.js'
import { codeOf, denylistComplete, type Instance, signer, startInstance } from './setup.js'

const BOUND_MS = 1000
const prefix = `aftest:${runId()}:`
let schema: TestSchema
let pool: pg.Pool
let proxy: TcpProxy
const cleanup: Array<() => unknown> = []

beforeAll(async () => {
  ;[schema, proxy] = await Promise.all([
    createTestSchema(),
    startTcpProxy(endpointOf(REDIS_URL, 6379)),
  ])
  pool = schema.pool({ max: 8 })
  await migrate(pool)
})

afterEach(async () => {
  proxy.restore()
  for (const fn of cleanup.splice(0).reverse()) await fn()
})

afterAll(async () => {
  await proxy?.close()
  await schema?.drop()
})

async function withLog(
  mode: 'local' | 'strict',
  url?: string,
  pollIntervalMs = 100,
): Promise<Instance & { changes: ChangeLog }> {
  const changes = createChangeLog({ pool, pollIntervalMs })
  cleanup.push(() => changes.close())
  await changes.ready()
  const instance = await startInstance(pool, `${prefix}${mode}:`, cleanup, {
    mode,
    changes,
    syncIntervalMs: false, // nothing but the log and pub/sub brings news
    ...(url === undefined ? {} : { url }),
  })
  return { ...instance, changes }
}

async function untilRefused(instance: Instance, token: string): Promise<number> {
  const start = performance.now()
  while ((await codeOf(instance.auth.verify(token))) !== 'token_revoked') {
    if (performance.now() - start > 5000) throw new Error('not refused within 5 s')
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  return performance.now() - start
}

describe.each(['local', 'strict'] as const)('%s mode', (mode) => {
  it.each([
    ['cut', (p: TcpProxy) => p.cut()],
    ['stall', (p: TcpProxy) => p.stall()],
    ['black hole', (p: TcpProxy) => p.blackhole()],
  ])(
    'a revocation made where Redis is %s is refused everywhere within 1 s',
    async (fault, breakRedis) => {
      const revoker = await withLog(mode, viaProxy(REDIS_URL, proxy))
      const other = await withLog(mode)
      const token = signer.sign({ sub: `u-${fault}` })
      for (const instance of [revoker, other]) {
        expect(await codeOf(instance.auth.verify(token))).toBe('ok')
      }
      breakRedis(proxy)
      const start = performance.now()
      await revoker.auth.revoke({ token }).catch(() => {}) // recorded in PostgreSQL; Redis may fail
      const ms = Math.max(
        ...(await Promise.all([untilRefused(other, token), untilRefused(revoker, token)])),
      )
      console.log(
        `[revocation] ${mode}, revoker's Redis ${fault}: refused everywhere ${(performance.now() - start).toFixed(0)} ms after revoke() began (${ms.toFixed(0)} ms after it returned)`,
      )
      expect(performance.now() - start).toBeLessThan(BOUND_MS + 500)
      expect(ms).toBeLessThan(BOUND_MS)
    },
  )
})

describe('strict mode, Redis cut under both instances', () => {
  it('a revocation an instance read from PostgreSQL during the outage is never accepted by it again', async () => {
    // the log reads rarely here: only what the instance itself read may keep the token refused
    // the revoker's own way to Redis stays cut: the denylist in Redis never gets the revocation
    const revokerProxy = await startTcpProxy(endpointOf(REDIS_URL, 6379))
    cleanup.push(() => revokerProxy.close())
    const revoker = await withLog('strict', viaProxy(REDIS_URL, revokerProxy), 60_000)
    const other = await withLog('strict', viaProxy(REDIS_URL, proxy), 60_000)
    const token = signer.sign({ sub: 'u-monotonic' })
    expect(await codeOf(other.auth.verify(token))).toBe('ok')
    // the denylist is complete: Redis alone answers the strict checks
    const start = performance.now()
    while (!(await denylistComplete(other.redis, other.list))) {
      if (performance.now() - start > 5000) throw new Error('the denylist was not built')
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    revokerProxy.cut()
    proxy.cut()
    await revoker.auth.revoke({ token }).catch(() => {}) // recorded in PostgreSQL, not in Redis
    expect(await untilRefused(other, token)).toBeLessThan(BOUND_MS) // PostgreSQL answered
    proxy.restore()
    await redisReady(other.redis)
    const end = performance.now() + 1000
    while (performance.now() < end) {
      expect(await codeOf(other.auth.verify(token))).toBe('token_revoked')
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
  })
})

describe('a revocation written by SQL alone (no instance published it)', () => {
  it('is refused by every instance within 1 s, read from PostgreSQL by its key only', async () => {
    const instances = [await withLog('local'), await withLog('strict')]
    const token = signer.sign({ sub: 'u-sql' })
    for (const instance of instances) expect(await codeOf(instance.auth.verify(token))).toBe('ok')
    await new Promise((resolve) => setTimeout(resolve, 200)) // the start-up reads are over
    const queries = countQueries(pool)
    try {
      const start = performance.now()
      await pool.query(
        `INSERT INTO tokens (token_hash, expires_at, revoked, kind)
         VALUES ($1, now() + interval '1 hour', true, 'token')`,
        [tokenHashOf(token)],
      )
      const ms = Math.max(...(await Promise.all(instances.map((i) => untilRefused(i, token)))))
      console.log(
        `[revocation] written by SQL alone: refused by a local and a strict instance ${ms.toFixed(0)} ms after the INSERT began (${(performance.now() - start).toFixed(0)} ms in all)`,
      )
      expect(ms).toBeLessThan(BOUND_MS)
      expect(queries.byName.get(REVOCATION_STATEMENTS.findLive)).toBeGreaterThanOrEqual(2)
      // no catch-up scan: only the changed key is read
      expect(queries.byName.get(REVOCATION_STATEMENTS.page)).toBeUndefined()
    } finally {
      delete (pool as { connect?: unknown }).connect // stop counting
    }
  })
})
