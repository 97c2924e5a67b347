/**
 * PostgreSQL is the record: two "instances" (each its own Redis client through a TCP proxy, memory
 * layer, store and change log) share Redis and PostgreSQL. A change committed in PostgreSQL, by
 * `invalidate` or by plain SQL, is enforced by both within 1 s whatever Redis does (cut, stall,
 * black hole), and no Redis copy from before it is served after Redis returns.
 */

import { useRedisFaultFixture } from '@authframework/test-support/fault-fixture'
import { connectRedis, REDIS_URL, seed, viaProxy } from '@authframework/test-support/services'
import type { TcpProxy } from '@authframework/test-support/tcp-proxy'
import type { Redis } from 'ioredis'
import type pg from 'pg'
import { beforeAll, describe, expect, it } from 'vitest'
import {
  type ChangeLog,
  createChangeLog,
  createPermissionStore,
  memoryLayer,
  type PermissionStore,
  postgresSource,
  type RedisLayer,
  redisLayer,
} from '../../../src/index.js'

/** The promise: enforced within this long of the commit, whatever happened to Redis. */
const BOUND_MS = 1000

interface Instance {
  readonly store: PermissionStore
  readonly changes: ChangeLog
  readonly redis: RedisLayer
}

const fault = useRedisFaultFixture({ poolMax: 8 })
const { prefix, cleanup } = fault
let pool: pg.Pool, direct: Redis, proxy: TcpProxy
beforeAll(() => {
  ;({ pool, direct, proxy } = fault.ready())
})

/** `memory: false` sends every lookup to Redis (breaker permitting), as a cold instance would. */
async function instance({ pollIntervalMs = 100, memory = true } = {}): Promise<Instance> {
  const client = await connectRedis(viaProxy(REDIS_URL, proxy))
  const changes = createChangeLog({ pool, pollIntervalMs })
  const redis = redisLayer({ client, keyPrefix: prefix, ttlSeconds: 1800, timeoutMs: 150 })
  const store = createPermissionStore({
    layers: memory ? [memoryLayer({ ttlSeconds: 300 }), redis] : [redis],
    source: postgresSource({ pool }),
    changes,
    onError: () => {},
  })
  cleanup.push(async () => {
    await store.close()
    await changes.close()
    client.disconnect()
  })
  await Promise.all([store.ready(), changes.ready()])
  return { store, changes, redis }
}

const perms = async (store: PermissionStore, id: string) =>
  (await store.lookup(id))?.permissions ?? null

const FAULTS: ReadonlyArray<readonly [string, (proxy: TcpProxy) => void]> = [
  ['cut', (p) => p.cut()],
  ['stall', (p) => p.stall()],
  ['black hole', (p) => p.blackhole()],
]

/** Polls every instance until none grants `permission` to `id`; resolves the time it took. */
async function untilRevoked(instances: Instance[], id: string, permission: string) {
  const start = performance.now()
  for (;;) {
    const seen = await Promise.all(instances.map(({ store }) => perms(store, id)))
    if (seen.every((granted) => !granted?.includes(permission))) return performance.now() - start
    if (performance.now() - start > 5000) throw new Error(`still granted: ${JSON.stringify(seen)}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

/** For `ms`, no instance may grant `permission` to `id` again (a stale copy coming back). */
async function neverGranted(instances: Instance[], id: string, permission: string, ms: number) {
  const end = performance.now() + ms
  while (performance.now() < end) {
    for (const { store } of instances) {
      expect(await perms(store, id)).not.toContain(permission)
    }
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

describe.each(FAULTS)('Redis %s under two instances', (fault, breakRedis) => {
  it('a role removed by SQL alone is enforced everywhere within 1 s, and stays so after Redis returns', async () => {
    const id = `sql-${fault.replace(' ', '-')}`
    await seed(pool, { roles: { clerk: ['orders:write'] }, users: [{ id, roles: ['clerk'] }] })
    const a = await instance()
    const b = await instance()
    for (const { store } of [a, b]) expect(await perms(store, id)).toContain('orders:write')
    await a.store.lookup(id) // the copy in Redis, written before the change

    breakRedis(proxy)
    await pool.query('DELETE FROM user_roles WHERE user_id = $1', [id])
    const ms = await untilRevoked([a, b], id, 'orders:write')
    console.log(
      `[coherence] Redis ${fault}: role removed by SQL enforced everywhere in ${ms.toFixed(0)} ms`,
    )
    expect(ms).toBeLessThan(BOUND_MS)

    proxy.restore()
    const fresh = await instance()
    await neverGranted([a, b, fresh], id, 'orders:write', 1000)
    // Whatever Redis holds now (repaired, or a write from before the change that arrived late),
    // it is no copy an instance would serve as granting
    expect((await fresh.redis.get(id))?.permissions ?? []).not.toContain('orders:write')
  })

  it('invalidate() during the outage succeeds (it is recorded in PostgreSQL), and the old copy never comes back', async () => {
    const id = `inv-${fault.replace(' ', '-')}`
    await seed(pool, { roles: { clerk: ['orders:write'] }, users: [{ id, roles: ['clerk'] }] })
    const a = await instance()
    const b = await instance()
    for (const { store } of [a, b]) expect(await perms(store, id)).toContain('orders:write')

    breakRedis(proxy)
    // a writer that does not go through the tables the triggers watch, then tells the store
    await pool.query('ALTER TABLE user_roles DISABLE TRIGGER user_roles_changes')
    try {
      await pool.query('DELETE FROM user_roles WHERE user_id = $1', [id])
    } finally {
      await pool.query('ALTER TABLE user_roles ENABLE TRIGGER user_roles_changes')
    }
    await a.store.invalidate(id)
    const ms = await untilRevoked([a, b], id, 'orders:write')
    expect(ms).toBeLessThan(BOUND_MS)

    proxy.restore()
    await neverGranted([a, b, await instance()], id, 'orders:write', 1000)
  })
})

describe.each(FAULTS)('Redis %s, with a change log that reads rarely', (fault, breakRedis) => {
  it('what an instance refused from PostgreSQL during the outage it never grants again from the old copy in Redis', async () => {
    const id = `rare-${fault.replace(' ', '-')}`
    await seed(pool, { roles: { clerk: ['orders:write'] }, users: [{ id, roles: ['clerk'] }] })
    // only the catch-up after the trouble reads the log; every lookup asks Redis first
    const a = await instance({ pollIntervalMs: 60_000, memory: false })
    expect(await perms(a.store, id)).toContain('orders:write')
    const key = `${prefix}perm:${Buffer.from(id).toString('base64url')}`
    while ((await direct.get(key)) === null) await new Promise((resolve) => setTimeout(resolve, 5))

    breakRedis(proxy)
    await pool.query('DELETE FROM user_roles WHERE user_id = $1', [id])
    // once Redis cannot answer, PostgreSQL does
    const start = performance.now()
    while ((await perms(a.store, id))?.includes('orders:write')) {
      if (performance.now() - start > 5000) throw new Error('the outage was never noticed')
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    expect(JSON.parse((await direct.get(key))!).p).toContain('orders:write') // the old copy

    proxy.restore()
    // until Redis answers this instance again (its lookups probe the breaker), and a while after
    const back = performance.now()
    while (a.redis.circuit !== 'closed' || a.redis.subscription?.state !== 'live') {
      if (performance.now() - back > 10_000) throw new Error('Redis never came back')
      await neverGranted([a], id, 'orders:write', 50)
    }
    await neverGranted([a], id, 'orders:write', 500)
  })
})
