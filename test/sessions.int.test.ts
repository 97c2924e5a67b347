/**
 * Server-side sessions through all three adapters: an Express, a Koa and a Fastify app, each with
 * its own session store (own memory layer and Redis client: three "instances") on the shared Redis
 * and PostgreSQL, and a permission store so that `req.auth` carries the session user's permissions.
 */

import {
  createPermissionStore,
  createSessionStore,
  migrate,
  type PermissionStore,
  postgresSessionSource,
  postgresSource,
  SESSION_STATEMENTS,
  type SessionStore,
  sessionMemoryLayer,
  sessionRedisLayer,
} from '@authframework/core'
import {
  connectRedis,
  countQueries,
  createTestSchema,
  deleteKeys,
  runId,
  seed,
  type TestSchema,
} from '@authframework/test-support/services'
import type { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  ADAPTERS,
  type AdapterName,
  baseOptions,
  type RunningApp,
  startApp,
} from './support/apps.js'
import { NOW } from './support/tokens.js'

const prefix = `aftest:${runId()}:`
let now = NOW * 1000
const clock = () => now
let schema: TestSchema
let pool: ReturnType<TestSchema['pool']>
const clients: Redis[] = []
const stores: SessionStore[] = []
const permissionStores: PermissionStore[] = []
const apps = new Map<AdapterName, RunningApp>()
const bareApps = new Map<AdapterName, RunningApp>()
const storeOf = new Map<AdapterName, SessionStore>()

beforeAll(async () => {
  schema = await createTestSchema()
  pool = schema.pool({ max: 8 })
  await migrate(pool)
  await seed(pool, {
    roles: { reader: ['orders:read'] },
    users: [
      { id: 'alice', roles: ['reader'] },
      { id: 'bob' },
      { id: 'carol', roles: ['reader'] },
      { id: 'dave', roles: ['reader'] },
    ],
  })
  for (const adapter of ADAPTERS) {
    const redis = await connectRedis()
    clients.push(redis)
    const store = createSessionStore({
      layers: [
        sessionMemoryLayer({ clock }),
        sessionRedisLayer({ client: redis, keyPrefix: prefix, clock }),
      ],
      source: postgresSessionSource({ pool }),
      clock,
    })
    await store.ready()
    stores.push(store)
    storeOf.set(adapter, store)
    const permissions = createPermissionStore({ source: postgresSource({ pool }) })
    permissionStores.push(permissions)
    apps.set(
      adapter,
      await startApp(adapter, {
        ...baseOptions(),
        clock,
        sessions: { store, cookieName: 'sid' },
        permissions: { store: permissions, merge: 'store' },
      }),
    )
    // the same instance's sessions, on an app without a permission store
    bareApps.set(
      adapter,
      await startApp(adapter, { ...baseOptions(), clock, sessions: { store, cookieName: 'sid' } }),
    )
  }
})

afterAll(async () => {
  await Promise.allSettled([...apps.values(), ...bareApps.values()].map((app) => app.close()))
  await Promise.allSettled([...stores, ...permissionStores].map((store) => store.close()))
  if (clients[0]) await deleteKeys(clients[0], prefix)
  for (const client of clients) client.disconnect()
  await schema?.drop()
})

const withCookie = (id: string): [string, string][] => [['Cookie', `theme=dark; sid=${id}`]]

async function until(check: () => Promise<boolean>, timeoutMs = 3000): Promise<number> {
  const start = performance.now()
  for (;;) {
    if (await check()) return performance.now() - start
    if (performance.now() - start > timeoutMs) throw new Error(`not true within ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 1))
  }
}

describe('session cookie through every adapter', () => {
  it('create, then use on every adapter: req.auth is the session user with their permissions', async () => {
    const session = await storeOf.get('express')!.create('alice')
    for (const adapter of ADAPTERS) {
      const app = apps.get(adapter)!
      const me = await app.request('/me', withCookie(session.id))
      expect(me.status, adapter).toBe(200)
      expect(me.body).toMatchObject({
        auth: {
          sub: 'alice',
          claims: { sub: 'alice', sid: session.id },
          permissions: ['orders:read'],
          roles: ['reader'],
        },
      })
      expect((await app.request('/orders', withCookie(session.id))).status, adapter).toBe(200)
      const denied = await app.request('/orders/write', withCookie(session.id))
      expect(denied.status, adapter).toBe(403)
      const unknown = await app.request('/me', withCookie('A'.repeat(43)))
      expect(unknown.status, adapter).toBe(401)
      expect(unknown.body).toMatchObject({ code: 'session_invalid' })
      expect(unknown.headers['www-authenticate']).toContain('error="invalid_token"')
    }
  })

  it('touch writes last_activity at most once per interval, whichever instance serves', async () => {
    const session = await storeOf.get('koa')!.create('alice')
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
    try {
      for (let i = 0; i < 5; i++) {
        for (const adapter of ADAPTERS) {
          expect((await apps.get(adapter)!.request('/me', withCookie(session.id))).status).toBe(200)
        }
      }
      // koa created it (nothing to write); every other instance asked once, and wrote nothing
      const others = ADAPTERS.length - 1
      await until(async () => (queries.byName.get(SESSION_STATEMENTS.touch) ?? 0) >= others)
      expect(queries.byName.get(SESSION_STATEMENTS.touch)).toBe(others)
      expect(await lastActivity()).toBe(session.createdAt)

      now += 61_000
      for (let i = 0; i < 5; i++) {
        for (const adapter of ADAPTERS)
          await apps.get(adapter)!.request('/me', withCookie(session.id))
      }
      const total = others + ADAPTERS.length // one per instance per interval
      await until(async () => (queries.byName.get(SESSION_STATEMENTS.touch) ?? 0) >= total)
      expect(queries.byName.get(SESSION_STATEMENTS.touch)).toBe(total)
      expect(await lastActivity()).toBe(now)
    } finally {
      delete (pool as { query?: unknown }).query
    }
  })

  it('an expired session is refused by every adapter', async () => {
    const session = await storeOf.get('fastify')!.create('alice', { ttlSeconds: 120 })
    for (const adapter of ADAPTERS) {
      expect((await apps.get(adapter)!.request('/me', withCookie(session.id))).status).toBe(200)
    }
    now += 120_001
    for (const adapter of ADAPTERS) {
      const response = await apps.get(adapter)!.request('/me', withCookie(session.id))
      expect(response.status, adapter).toBe(401)
      expect(response.body).toMatchObject({ code: 'session_invalid' })
    }
  })

  it('destroy through one instance is seen by the others', async () => {
    for (const destroyer of ADAPTERS) {
      const session = await storeOf.get(destroyer)!.create('alice')
      for (const adapter of ADAPTERS) {
        expect((await apps.get(adapter)!.request('/me', withCookie(session.id))).status).toBe(200)
      }
      const start = performance.now()
      await storeOf.get(destroyer)!.destroy(session.id)
      const seen = await Promise.all(
        ADAPTERS.map((adapter) =>
          until(
            async () =>
              (await apps.get(adapter)!.request('/me', withCookie(session.id))).status === 401,
          ).then(() => performance.now() - start),
        ),
      )
      console.log(
        `[sessions] destroy through ${destroyer}: refused by express/koa/fastify after ${seen.map((ms) => ms.toFixed(1)).join(' / ')} ms`,
      )
      expect(Math.max(...seen)).toBeLessThan(1000)
    }
  })

  describe.each([
    ['with a permission store', apps],
    ['without a permission store', bareApps],
  ])('changes made in PostgreSQL alone, %s', (_, set) => {
    const everyone = async (id: string) =>
      Promise.all(ADAPTERS.map((adapter) => set.get(adapter)!.request('/me', withCookie(id))))

    it('a user deactivated after login is refused (401 user_inactive) once revalidateSeconds pass', async () => {
      const session = await storeOf.get('express')!.create('carol')
      for (const response of await everyone(session.id)) expect(response.status).toBe(200)
      await pool.query("UPDATE users SET active = false WHERE id = 'carol'")
      try {
        now += 60_001 // the store's default revalidateSeconds
        for (const response of await everyone(session.id)) {
          expect(response.status, response.text).toBe(401)
          expect(response.body).toMatchObject({ code: 'user_inactive' })
          expect(response.headers['www-authenticate']).toBe(
            'Bearer realm="api", error="invalid_token", error_description="The user is unknown or inactive."',
          )
        }
        // still refused while the (refreshed) copies are trusted: the refusal is cached, not lost
        for (const response of await everyone(session.id)) expect(response.status).toBe(401)
      } finally {
        await pool.query("UPDATE users SET active = true WHERE id = 'carol'")
      }
    })

    it('a session deactivated in the table is refused (401 session_invalid) once revalidateSeconds pass', async () => {
      const session = await storeOf.get('koa')!.create('dave')
      for (const response of await everyone(session.id)) expect(response.status).toBe(200)
      await pool.query('UPDATE sessions SET active = false WHERE id = $1', [session.id])
      now += 60_001
      for (const response of await everyone(session.id)) {
        expect(response.status, response.text).toBe(401)
        expect(response.body).toMatchObject({ code: 'session_invalid' })
      }
    })
  })
})
