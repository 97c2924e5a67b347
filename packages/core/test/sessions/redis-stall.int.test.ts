/**
 * The session store with its Redis stalled or black-holed (TCP proxy; no reset ever arrives): the
 * invalidation subscription notices by its heartbeat, memory copies are dropped, reads go on, and
 * a session destroyed elsewhere during the outage is not served after the heal.
 */

import { useRedisFaultFixture } from '@authframework/test-support/fault-fixture'
import { connectRedis, REDIS_URL, viaProxy } from '@authframework/test-support/services'
import type { TcpProxy } from '@authframework/test-support/tcp-proxy'
import type { Redis } from 'ioredis'
import type pg from 'pg'
import { beforeAll, describe, expect, it } from 'vitest'
import {
  createSessionStore,
  postgresSessionSource,
  sessionMemoryLayer,
  sessionRedisLayer,
} from '../../src/sessions/index.js'

const fault = useRedisFaultFixture({
  poolMax: 4,
  seed: { roles: { reader: ['orders:read'] }, users: [{ id: 'alice', roles: ['reader'] }] },
})
const { prefix, cleanup } = fault
let pool: pg.Pool, direct: Redis, proxy: TcpProxy
beforeAll(() => {
  ;({ pool, direct, proxy } = fault.ready())
})

async function instance(url: string) {
  const client = await connectRedis(url)
  const memory = sessionMemoryLayer()
  const shared = sessionRedisLayer({ client, keyPrefix: prefix, timeoutMs: 150 })
  const store = createSessionStore({
    layers: [memory, shared],
    source: postgresSessionSource({ pool }),
    onError: () => {},
  })
  cleanup.push(async () => {
    await store.close()
    client.disconnect()
  })
  await store.ready()
  return { memory, shared, store }
}

async function until(check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<number> {
  const start = performance.now()
  for (;;) {
    if (await check()) return performance.now() - start
    if (performance.now() - start > timeoutMs) throw new Error(`not true within ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

describe('session store, Redis stalled or black-holed', () => {
  for (const fault of ['stall', 'blackhole'] as const) {
    it(`${fault}: memory copies dropped, and a session destroyed meanwhile is not served after the heal`, async () => {
      const a = await instance(REDIS_URL)
      const b = await instance(viaProxy(REDIS_URL, proxy))
      const session = await a.store.create('alice')
      expect(await b.store.get(session.id)).toMatchObject({ userId: 'alice' })
      expect(b.memory.getSync(session.id)).toBeDefined()

      proxy[fault]()
      const detectedMs = await until(() => b.shared.subscription?.state === 'lost')
      expect(detectedMs).toBeLessThan(3000)
      expect(b.memory.getSync(session.id)).toBeUndefined()

      // reads go on during the outage, and the session is cached in memory again
      for (let i = 0; i < 4; i++) {
        expect(await b.store.get(session.id)).toMatchObject({ userId: 'alice' })
      }
      // destroyed through a healthy instance: b misses the message
      await a.store.destroy(session.id)
      expect(await a.store.get(session.id)).toBeNull()

      proxy.restore()
      const restoredAt = performance.now()
      await until(() => b.shared.subscription?.state === 'live')
      const liveMs = performance.now() - restoredAt
      expect(await b.store.get(session.id)).toBeNull()
      // the tombstone is still in Redis: nothing b gave up on during the outage replaced it
      await new Promise((resolve) => setTimeout(resolve, 300))
      expect(await direct.get(b.shared.keyOf(session.id))).toBe('null')
      console.log(
        `[sessions] Redis ${fault}: subscription lost after ${detectedMs.toFixed(0)} ms, live ${liveMs.toFixed(0)} ms after the heal`,
      )

      // live destroys reach b again
      const next = await a.store.create('alice')
      expect(await b.store.get(next.id)).not.toBeNull()
      await a.store.destroy(next.id)
      await until(() => b.memory.getSync(next.id) === undefined, 1000)
    })
  }
})
