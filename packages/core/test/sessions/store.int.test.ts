/**
 * The session store against the real Redis and PostgreSQL: several "instances" (stores with their
 * own memory layer and Redis client) share one schema and key prefix. Time is injected.
 */

import {
  connectRedis,
  countQueries,
  createTestSchema,
  deleteKeys,
  endpointOf,
  REDIS_URL,
  runId,
  seed,
  type TestSchema,
  viaProxy,
} from '@authframework/test-support/services'
import { startTcpProxy, type TcpProxy } from '@authframework/test-support/tcp-proxy'
import type { Redis } from 'ioredis'
import type pg from 'pg'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { type AuthError, createAuth, errorResponse, migrate } from '../../src/index.js'
import {
  clearSessionCookie,
  createSessionStore,
  postgresSessionSource,
  SESSION_STATEMENTS,
  type SessionStore,
  serializeSessionCookie,
  sessionMemoryLayer,
  sessionRedisLayer,
  sweepExpiredSessions,
} from '../../src/sessions/index.js'

const prefix = `aftest:${runId()}:`
let schema: TestSchema
let pool: pg.Pool
let direct: Redis
let now = Date.now()
const clock = () => now
const cleanup: Array<() => unknown> = []

beforeAll(async () => {
  ;[schema, direct] = await Promise.all([createTestSchema(), connectRedis()])
  pool = schema.pool({ max: 6 })
  await migrate(pool)
  await seed(pool, {
    roles: { reader: ['orders:read'] },
    users: [
      { id: 'alice', roles: ['reader'] },
      { id: 'bob', roles: ['reader'] },
      { id: 'carol', active: false },
      { id: 'dave' },
    ],
  })
})

afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn()
})

afterAll(async () => {
  if (direct) {
    await deleteKeys(direct, prefix)
    direct.disconnect()
  }
  await schema?.drop()
})

/** One instance: memory + Redis (own client) + PostgreSQL. */
async function instance(
  options: { url?: string; touchIntervalSeconds?: number; layers?: 'memory-only' } = {},
): Promise<{ store: SessionStore; redis: Redis }> {
  const redis = await connectRedis(options.url)
  const store = createSessionStore({
    layers:
      options.layers === 'memory-only'
        ? [sessionMemoryLayer({ clock })]
        : [
            sessionMemoryLayer({ clock }),
            sessionRedisLayer({ client: redis, keyPrefix: prefix, clock, timeoutMs: 150 }),
          ],
    source: postgresSessionSource({ pool }),
    clock,
    touchIntervalSeconds: options.touchIntervalSeconds,
    onError: () => {},
  })
  cleanup.push(async () => {
    await store.close()
    redis.disconnect()
  })
  await store.ready()
  return { store, redis }
}

const stopCounting = () => delete (pool as { query?: unknown }).query

async function until(check: () => Promise<boolean>, timeoutMs = 3000): Promise<number> {
  const start = performance.now()
  for (;;) {
    if (await check()) return performance.now() - start
    if (performance.now() - start > timeoutMs) throw new Error(`not true within ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 1))
  }
}

describe('create', () => {
  it('returns a session with a 256-bit random id, written to Redis and PostgreSQL', async () => {
    const { store } = await instance()
    const session = await store.create('alice')
    expect(session.id).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(Buffer.from(session.id, 'base64url')).toHaveLength(32)
    expect(session).toMatchObject({ userId: 'alice', createdAt: now, expiresAt: now + 86_400_000 })
    expect(Object.isFrozen(session)).toBe(true)
    const ids = new Set(await Promise.all(Array.from({ length: 20 }, () => store.create('alice'))))
    expect(new Set([...ids].map((s) => s.id)).size).toBe(20)

    const { rows } = await pool.query(
      `SELECT user_id, active, round(extract(epoch FROM expires_at) * 1000)::float8 AS expires
       FROM sessions WHERE id = $1`,
      [session.id],
    )
    expect(rows).toEqual([{ user_id: 'alice', active: true, expires: session.expiresAt }])
    const key = `${prefix}sess:${session.id}`
    expect(JSON.parse((await direct.get(key))!)).toMatchObject({ u: 'alice' })
    expect(await direct.ttl(key)).toBeLessThanOrEqual(3600)
  })

  it('takes a lifetime, and refuses unknown and inactive users (nothing cached)', async () => {
    const { store } = await instance()
    expect((await store.create('bob', { ttlSeconds: 60 })).expiresAt).toBe(now + 60_000)
    for (const user of ['nobody', 'carol']) {
      const error = (await store.create(user).catch((e) => e)) as AuthError
      expect(error.code).toBe('user_inactive')
    }
    await expect(store.create('')).rejects.toThrow(TypeError)
    const { rowCount } = await pool.query('SELECT 1 FROM sessions WHERE user_id = ANY($1)', [
      ['nobody', 'carol'],
    ])
    expect(rowCount).toBe(0)
  })
})

describe('get', () => {
  it('reads through memory, then Redis, then PostgreSQL, filling the layers above', async () => {
    const a = await instance()
    const session = await a.store.create('alice')
    const queries = countQueries(pool)
    // a: memory hit, b: Redis hit (fresh memory), neither asks PostgreSQL
    expect(await a.store.get(session.id)).toEqual(session)
    const b = await instance()
    expect(await b.store.get(session.id)).toEqual(session)
    expect(queries.byName.get(SESSION_STATEMENTS.get)).toBeUndefined()
    // Redis lost it: PostgreSQL answers once, Redis is filled again
    await direct.del(`${prefix}sess:${session.id}`)
    const c = await instance()
    const [x, y] = await Promise.all([c.store.get(session.id), c.store.get(session.id)])
    expect(x).toEqual(session)
    expect(y).toEqual(session)
    expect(queries.byName.get(SESSION_STATEMENTS.get)).toBe(1) // single flight
    stopCounting()
    await until(async () => (await direct.exists(`${prefix}sess:${session.id}`)) === 1)
  })

  it('asks PostgreSQL again once a cached copy is revalidateSeconds old, and repairs Redis (never a tombstone)', async () => {
    const a = await instance()
    const b = await instance()
    const session = await a.store.create('alice')
    const key = `${prefix}sess:${session.id}`
    const queries = countQueries(pool)
    try {
      expect(await b.store.get(session.id)).toMatchObject({ userActive: true })
      expect(queries.byName.get(SESSION_STATEMENTS.get)).toBeUndefined()
      await pool.query("UPDATE users SET active = false WHERE id = 'alice'")
      now += 60_000 // exactly revalidateSeconds: no copy is trusted any more
      const [x, y] = await Promise.all([b.store.get(session.id), a.store.get(session.id)])
      expect(x).toMatchObject({ userActive: false, checkedAt: now })
      expect(y).toMatchObject({ userActive: false, checkedAt: now })
      // Redis holds the confirmed copy, so the next instance does not ask again
      await until(async () => JSON.parse((await direct.get(key)) ?? '{}').k === now)
      expect(JSON.parse((await direct.get(key))!)).toMatchObject({ a: false, k: now })
      const asked = queries.byName.get(SESSION_STATEMENTS.get)
      expect(await (await instance()).store.get(session.id)).toMatchObject({ userActive: false })
      expect(queries.byName.get(SESSION_STATEMENTS.get)).toBe(asked)
      // a read that started before a destroy cannot put the session back over the tombstone
      await a.store.destroy(session.id)
      expect(await direct.get(key)).toBe('null')
      const layer = sessionRedisLayer({
        client: direct,
        keyPrefix: prefix,
        clock,
        subscribe: false,
      })
      await layer.setMany([[session.id, { ...session, checkedAt: now }]])
      expect(await direct.get(key)).toBe('null')
      expect(await (await instance()).store.get(session.id)).toBeNull()
    } finally {
      stopCounting()
      await pool.query("UPDATE users SET active = true WHERE id = 'alice'")
    }
  })

  it('answers null for ids that are not ours, without any lookup', async () => {
    const { store } = await instance()
    const queries = countQueries(pool)
    for (const id of [
      '',
      'short',
      'x'.repeat(43).replace(/x$/, '!'),
      '../../etc',
      'a'.repeat(44),
    ]) {
      expect(await store.get(id)).toBeNull()
    }
    expect(queries.total()).toBe(0)
    stopCounting()
    expect(await store.get('A'.repeat(43))).toBeNull() // well-formed but unknown
  })

  it('answers null once the session has expired, on every instance', async () => {
    const a = await instance()
    const b = await instance()
    const session = await a.store.create('alice', { ttlSeconds: 60 })
    expect(await b.store.get(session.id)).toEqual(session)
    now += 60_001
    try {
      expect(await a.store.get(session.id)).toBeNull()
      expect(await b.store.get(session.id)).toBeNull()
      const c = await instance({ layers: 'memory-only' }) // straight to PostgreSQL
      expect(await c.store.get(session.id)).toBeNull()
    } finally {
      now -= 60_001
    }
  })
})

describe('touch', () => {
  it('writes last_activity at most once per interval per session, across instances', async () => {
    const a = await instance({ touchIntervalSeconds: 60 })
    const b = await instance({ touchIntervalSeconds: 60 })
    const session = await a.store.create('alice')
    const lastActivity = async () =>
      Number(
        (
          await pool.query(
            'SELECT round(extract(epoch FROM last_activity) * 1000)::float8 AS t FROM sessions WHERE id = $1',
            [session.id],
          )
        ).rows[0].t,
      )
    const queries = countQueries(pool)
    for (let i = 0; i < 50; i++) await a.store.touch(session.id) // just created: nothing to write
    expect(queries.byName.get(SESSION_STATEMENTS.touch)).toBeUndefined()

    const start = now
    now += 30_000
    await b.store.touch(session.id) // b asks, but the database says it was written < 60 s ago
    expect(await lastActivity()).toBe(start)
    for (let i = 0; i < 50; i++) await b.store.touch(session.id) // b remembers: no more queries
    expect(queries.byName.get(SESSION_STATEMENTS.touch)).toBe(1)

    now += 31_000
    await a.store.touch(session.id)
    expect(await lastActivity()).toBe(now)
    for (let i = 0; i < 50; i++) await a.store.touch(session.id)
    expect(queries.byName.get(SESSION_STATEMENTS.touch)).toBe(2)
    stopCounting()
    now = start
  })
})

describe('destroy', () => {
  it('invalidates everywhere: PostgreSQL, Redis (a tombstone), every instance memory', async () => {
    const a = await instance()
    const b = await instance()
    const session = await a.store.create('alice')
    expect(await b.store.get(session.id)).toEqual(session) // now in b's memory
    const start = performance.now()
    await a.store.destroy(session.id)
    const ms = await until(async () => (await b.store.get(session.id)) === null)
    console.log(
      `[sessions] destroy on A -> B refuses the session after ${(performance.now() - start).toFixed(2)} ms (poll ${ms.toFixed(2)} ms)`,
    )
    expect(await a.store.get(session.id)).toBeNull()
    const { rows } = await pool.query('SELECT active FROM sessions WHERE id = $1', [session.id])
    expect(rows).toEqual([{ active: false }])
    const key = `${prefix}sess:${session.id}`
    expect(await direct.get(key)).toBe('null')
    // a late read-through write (an instance that read before the destroy) cannot bring it back
    const layer = sessionRedisLayer({ client: direct, keyPrefix: prefix, clock, subscribe: false })
    await layer.setMany([[session.id, session]])
    await layer.delete(session.id) // a take-back of a stale write keeps the tombstone too
    expect(await direct.get(key)).toBe('null')
    const c = await instance()
    expect(await c.store.get(session.id)).toBeNull()
  })

  it('destroyAll logs a user out of every session', async () => {
    const a = await instance()
    const b = await instance()
    const sessions = await Promise.all([a.store.create('dave'), a.store.create('dave')])
    const other = await a.store.create('alice')
    for (const s of [...sessions, other]) expect(await b.store.get(s.id)).not.toBeNull()
    expect(await a.store.destroyAll('dave')).toBe(2)
    await until(async () => (await b.store.get(sessions[1]!.id)) === null)
    expect(await b.store.get(sessions[0]!.id)).toBeNull()
    expect(await b.store.get(other.id)).toEqual(other)
  })
})

describe('through createAuth (the session-cookie credential)', () => {
  it('authenticates the cookie, touches the session, and refuses it once destroyed (401 session_invalid)', async () => {
    const a = await instance()
    const b = await instance()
    const auth = (store: SessionStore) =>
      createAuth({
        secret: 'x'.repeat(32),
        algorithms: ['HS256'],
        audience: 'api',
        sessions: { store },
        clock,
      })
    const authA = auth(a.store)
    const authB = auth(b.store)
    const session = await a.store.create('alice')
    const input = { authorization: undefined, cookie: `theme=dark; sid=${session.id}` }
    for (const instanceAuth of [authA, authB]) {
      const context = await instanceAuth.authenticate(input)
      expect(context).toMatchObject({ sub: 'alice', claims: { sub: 'alice', sid: session.id } })
    }
    await a.store.destroy(session.id)
    await until(async () => {
      try {
        await authB.authenticate(input)
        return false
      } catch (error) {
        const e = error as AuthError
        expect(e.code).toBe('session_invalid')
        const response = errorResponse(e)
        expect(response.status).toBe(401)
        expect(response.headers['www-authenticate']).toContain('error="invalid_token"')
        return true
      }
    })
  })
})

describe('Redis cut under the session store', () => {
  let proxy: TcpProxy
  beforeAll(async () => {
    proxy = await startTcpProxy(endpointOf(REDIS_URL, 6379))
  })
  afterAll(async () => {
    await proxy.close()
  })

  it('reads from PostgreSQL while Redis is away and drops its memory copies (a destroy may be missed)', async () => {
    // the proxy stands in front of the single Redis: both instances use it, whatever this run's target
    const a = await instance({ url: REDIS_URL })
    const b = await instance({ url: viaProxy(REDIS_URL, proxy) })
    const session = await a.store.create('alice')
    expect(await b.store.get(session.id)).toEqual(session)
    proxy.cut()
    await a.store.destroy(session.id) // b's subscription is down: it misses the message
    // b dropped its memory when the channel went down, so it asks Redis (down) then PostgreSQL
    await until(async () => (await b.store.get(session.id)) === null)
    const live = await a.store.create('alice')
    expect(await b.store.get(live.id)).toEqual(live) // from PostgreSQL
    proxy.restore()
  })
})

describe('sweepExpiredSessions', () => {
  it('deletes expired sessions, active or destroyed, in batches', async () => {
    await pool.query(
      `INSERT INTO sessions (id, user_id, expires_at, active)
       SELECT 'sweep-' || i, 'alice', now() - interval '1 minute', i % 2 = 0 FROM generate_series(1, 5) AS i`,
    )
    const live = await (await instance()).store.create('alice')
    const result = await sweepExpiredSessions(pool, { batchSize: 2 })
    expect(result).toMatchObject({ done: true })
    expect(result.deleted).toBeGreaterThanOrEqual(5)
    expect((await pool.query(`SELECT 1 FROM sessions WHERE id LIKE 'sweep-%'`)).rowCount).toBe(0)
    expect((await pool.query('SELECT 1 FROM sessions WHERE id = $1', [live.id])).rowCount).toBe(1)
  })
})

describe('session cookies', () => {
  it('are HttpOnly, Secure and SameSite=Lax, living as long as the session', () => {
    const session = { id: 'A'.repeat(43), expiresAt: now + 3_600_000 }
    expect(serializeSessionCookie(session, { clock })).toBe(
      `sid=${'A'.repeat(43)}; Path=/; Max-Age=3600; HttpOnly; Secure; SameSite=Lax`,
    )
    expect(clearSessionCookie()).toBe('sid=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax')
    expect(serializeSessionCookie(session, { clock, secure: false, name: 'app_sid' })).toBe(
      `app_sid=${'A'.repeat(43)}; Path=/; Max-Age=3600; HttpOnly; SameSite=Lax`,
    )
    expect(() => serializeSessionCookie(session, { path: '/; Domain=evil' })).toThrow(TypeError)
    expect(() => serializeSessionCookie({ id: 'a;b', expiresAt: 0 })).toThrow(TypeError)
  })
})
