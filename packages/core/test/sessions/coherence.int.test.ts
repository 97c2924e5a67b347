import { useRedisFaultFixture } from '@authframework/test-support/fault-fixture'
import {
  connectRedis,
  REDIS_URL,
  runId,
  seed,
  viaProxy,
} from '@authframework/test-support/services'
import type { TcpProxy } from '@authframework/test-support/tcp-proxy'
import type { Redis } from 'ioredis'
import type pg from 'pg'
import { beforeAll, describe, expect, it } from 'vitest'
import { createChangeLog } from '../../src/index.js'
import {
  createSessionStore,
  postgresSessionSource,
  type SessionStore,
  sessionMemoryLayer,
  sessionRedisLayer,
} from '../../src/sessions/index.js'

const BOUND_MS = 1000

const fault = useRedisFaultFixture({ poolMax: 8 })
const { prefix, cleanup } = fault
let pool: pg.Pool, proxy: TcpProxy, direct: Redis
beforeAll(() => {
  ;({ pool, proxy, direct } = fault.ready())
})

async function instance(pollIntervalMs = 100): Promise<SessionStore> {
  const client = await connectRedis(viaProxy(REDIS_URL, proxy))
  const changes = createChangeLog({ pool, pollIntervalMs })
  const store = createSessionStore({
    layers: [
      sessionMemoryLayer({ ttlSeconds: 300 }),
      sessionRedisLayer({ client, keyPrefix: prefix, timeoutMs: 150 }),
    ],
    source: postgresSessionSource({ pool }),
    changes,
    revalidateSeconds: 3600, // only the change log may bring the news here
    onError: () => {},
  })
  cleanup.push(async () => {
    await store.close()
    await changes.close()
    client.disconnect()
  })
  await Promise.all([store.ready(), changes.ready()])
  return store
}

/** Both instances refuse the session (or see its user inactive); resolves how long it took. */
async function untilRefused(stores: SessionStore[], id: string): Promise<number> {
  const start = performance.now()
  for (;;) {
    const seen = await Promise.all(stores.map((store) => store.get(id)))
    if (seen.every((session) => session === null || session.userActive === false)) {
      return performance.now() - start
    }
    if (performance.now() - start > 5000) throw new Error('still served after 5 s')
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

describe.each([
  ['cut', (p: TcpProxy) => p.cut()],
  ['stall', (p: TcpProxy) => p.stall()],
  ['black hole', (p: TcpProxy) => p.blackhole()],
])('Redis %s under two instances', (fault, breakRedis) => {
  it.each([
    ['a session destroyed by SQL', 'UPDATE sessions SET active = false WHERE id = $1'],
    [
      'its user deactivated by SQL',
      'UPDATE users SET active = false WHERE id = (SELECT user_id FROM sessions WHERE id = $1)',
    ],
  ])('%s is refused by both within 1 s, and stays so after Redis returns', async (_, sql) => {
    const user = `u-${fault.replace(' ', '-')}-${runId()}`
    await seed(pool, { users: [{ id: user }] })
    const a = await instance()
    const b = await instance()
    const session = await a.create(user)
    for (const store of [a, b]) expect(await store.get(session.id)).toMatchObject({ userId: user })

    breakRedis(proxy)
    await pool.query(sql, [session.id])
    const ms = await untilRefused([a, b], session.id)
    expect(ms).toBeLessThan(BOUND_MS)

    proxy.restore()
    const fresh = await instance()
    const end = performance.now() + 1000
    while (performance.now() < end) {
      for (const store of [a, b, fresh]) {
        const seen = await store.get(session.id)
        expect(seen === null || seen.userActive === false).toBe(true)
      }
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
  })
})

describe('Redis cut, with a change log that reads rarely', () => {
  it('a session an instance refused from PostgreSQL during the outage it never serves again from the old copy in Redis', async () => {
    const user = `u-rare-${runId()}`
    await seed(pool, { users: [{ id: user }] })
    const a = await instance(60_000) // only the catch-up after the trouble reads the log
    const session = await a.create(user)
    expect(await a.get(session.id)).toMatchObject({ userId: user })
    const key = `${prefix}sess:${session.id}`
    while ((await direct.get(key)) === null) await new Promise((resolve) => setTimeout(resolve, 5))

    proxy.cut()
    await pool.query('UPDATE users SET active = false WHERE id = $1', [user])
    expect(await untilRefused([a], session.id)).toBeLessThan(BOUND_MS) // PostgreSQL answered
    expect(await direct.get(key)).toContain(user) // the old copy is still in Redis

    proxy.restore()
    await a.ready()
    const end = performance.now() + 1000
    while (performance.now() < end) {
      const seen = await a.get(session.id)
      expect(seen === null || seen.userActive === false).toBe(true)
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
  })
})
