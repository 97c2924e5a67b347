/**
 * The permission store with its Redis stalled or black-holed (TCP proxy; no reset ever arrives):
 * the invalidation subscription notices by its heartbeat, the local copies are dropped, lookups go
 * on (PostgreSQL answers), and after the heal an invalidation made elsewhere during the outage is
 * not served: local copies are dropped again when the channel is back, and no write given up during
 * the outage lands in Redis afterwards.
 */

import { useRedisFaultFixture } from '@authframework/test-support/fault-fixture'
import { connectRedis, REDIS_URL, seed, viaProxy } from '@authframework/test-support/services'
import type { TcpProxy } from '@authframework/test-support/tcp-proxy'
import type { Redis } from 'ioredis'
import type pg from 'pg'
import { beforeAll, describe, expect, it } from 'vitest'
import {
  createPermissionStore,
  memoryLayer,
  postgresSource,
  redisLayer,
} from '../../../src/index.js'

const fault = useRedisFaultFixture({
  poolMax: 4,
  seed: {
    roles: { reader: ['orders:read'], writer: ['orders:write'] },
    users: [
      { id: 'stall-user', roles: ['reader'] },
      { id: 'blackhole-user', roles: ['reader'] },
    ],
  },
})
const { prefix, cleanup } = fault
let pool: pg.Pool, direct: Redis, proxy: TcpProxy
beforeAll(() => {
  ;({ pool, direct, proxy } = fault.ready())
})

/** One instance: memory + Redis (its own client, at `url`) + PostgreSQL. */
async function instance(url: string) {
  const client = await connectRedis(url)
  const memory = memoryLayer({ ttlSeconds: 300 })
  const shared = redisLayer({
    client,
    keyPrefix: prefix,
    timeoutMs: 150,
    breaker: { failureThreshold: 3, openMs: 500 },
  })
  const store = createPermissionStore({
    layers: [memory, shared],
    source: postgresSource({ pool }),
    onError: () => {},
  })
  cleanup.push(async () => {
    await store.close()
    client.disconnect()
  })
  await store.ready()
  return { client, memory, shared, store }
}

async function until(check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<number> {
  const start = performance.now()
  for (;;) {
    if (await check()) return performance.now() - start
    if (performance.now() - start > timeoutMs) throw new Error(`not true within ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

const READER = { permissions: ['orders:read'], roles: ['reader'] }
const BOTH = { permissions: ['orders:read', 'orders:write'], roles: ['reader', 'writer'] }

describe('permission store, Redis stalled or black-holed', () => {
  for (const fault of ['stall', 'blackhole'] as const) {
    it(`${fault}: local copies dropped, lookups answer, an invalidation made meanwhile is not served after the heal`, async () => {
      const user = `${fault}-user`
      const a = await instance(REDIS_URL)
      const b = await instance(viaProxy(REDIS_URL, proxy))
      expect(await b.store.lookup(user)).toEqual(READER)
      expect(b.memory.get(user)).toEqual(READER)
      expect(b.shared.subscription?.state).toBe('live')

      proxy[fault]()
      const detectedMs = await until(() => b.shared.subscription?.state === 'lost')
      expect(detectedMs).toBeLessThan(3000)
      expect(b.shared.subscription?.heartbeatMisses).toBeGreaterThanOrEqual(1)
      expect(b.memory.get(user)).toBeUndefined() // dropped as on a reset

      // requests go on during the outage (PostgreSQL answers; the Redis layer times out until its
      // breaker opens), and the stale answer is cached locally again
      for (let i = 0; i < 4; i++) expect(await b.store.lookup(user)).toEqual(READER)
      // the role changes and is invalidated through a healthy instance: b misses the message
      await seed(pool, { users: [{ id: user, roles: ['writer'] }] })
      await a.store.invalidate(user)
      expect(await a.store.lookup(user)).toEqual(BOTH)
      expect(b.memory.get(user)).toEqual(READER)

      proxy.restore()
      const restoredAt = performance.now()
      await until(() => b.shared.subscription?.state === 'live')
      const liveMs = performance.now() - restoredAt
      expect(b.memory.get(user)).toBeUndefined() // dropped again when the channel is back
      expect(await b.store.lookup(user)).toEqual(BOTH)
      // nothing b gave up on during the outage (its write-back of READER) lands in Redis later
      await new Promise((resolve) => setTimeout(resolve, 300))
      const raw = await direct.get(b.shared.keyOf(user))
      if (raw !== null) expect(JSON.parse(raw)).toEqual({ p: BOTH.permissions, r: BOTH.roles })
      // and live invalidation works again
      await seed(pool, { users: [{ id: user, roles: [] }] })
      await pool.query('DELETE FROM user_roles WHERE user_id = $1', [user])
      await a.store.invalidate(user)
      await until(() => b.memory.get(user) === undefined, 1000)
      console.log(
        `[permissions] Redis ${fault}: subscription lost after ${detectedMs.toFixed(0)} ms, live ${liveMs.toFixed(0)} ms after the heal`,
      )
    })
  }
})
