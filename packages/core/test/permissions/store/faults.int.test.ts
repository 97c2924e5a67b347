/**
 * Real faults: TCP proxies in front of Redis and PostgreSQL, cut (connections reset, new ones
 * refused) or stalled (connections open, nothing forwarded) during the test, then restored.
 */

import {
  connectRedis,
  countRedisCommands,
  createTestSchema,
  DATABASE_URL,
  deleteKeys,
  endpointOf,
  REDIS_URL,
  runId,
  seed,
  settle,
  type TestSchema,
  timed,
  viaProxy,
} from '@authframework/test-support/services'
import { startTcpProxy, type TcpProxy } from '@authframework/test-support/tcp-proxy'
import type { Redis } from 'ioredis'
import type pg from 'pg'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { AuthUnavailableError } from '../../../src/errors.js'
import {
  createPermissionStore,
  type LayerErrorContext,
  memoryLayer,
  migrate,
  type PermissionStore,
  postgresSource,
  redisLayer,
} from '../../../src/index.js'

const REDIS_TIMEOUT_MS = 150
const PG_TIMEOUT_MS = 400
const OPEN_MS = 5000
const prefix = `aftest:${runId()}:`

let schema: TestSchema
let pool: pg.Pool
let direct: Redis
let redisProxy: TcpProxy
let pgProxy: TcpProxy
const cleanup: Array<() => Promise<unknown> | unknown> = []

beforeAll(async () => {
  ;[schema, direct, redisProxy, pgProxy] = await Promise.all([
    createTestSchema(),
    connectRedis(),
    startTcpProxy(endpointOf(REDIS_URL, 6379)),
    startTcpProxy(endpointOf(DATABASE_URL, 5432)),
  ])
  pool = schema.pool({ max: 2 })
  await migrate(pool)
  await seed(pool, {
    roles: { reader: ['orders:read'] },
    users: Array.from({ length: 60 }, (_, i) => ({ id: `u${i}`, roles: ['reader'] })),
  })
})

afterEach(async () => {
  redisProxy.restore()
  pgProxy.restore()
  for (const fn of cleanup.splice(0).reverse()) await fn()
})

afterAll(async () => {
  await Promise.allSettled([redisProxy?.close(), pgProxy?.close()])
  if (direct) {
    await deleteKeys(direct, prefix)
    direct.disconnect()
  }
  await schema?.drop()
})

const READER = { permissions: ['orders:read'], roles: ['reader'] }

/** A store whose Redis and PostgreSQL connections go through the proxies; time is injected. */
async function build() {
  const clock = { now: Date.now() }
  // The client's own timeout is longer than the layer's: the layer's deadline is what bounds a lookup.
  const client = await connectRedis(viaProxy(REDIS_URL, redisProxy), { commandTimeout: 2000 })
  const memory = memoryLayer({ ttlSeconds: 300, clock: () => clock.now })
  const shared = redisLayer({
    client,
    keyPrefix: prefix,
    timeoutMs: REDIS_TIMEOUT_MS,
    breaker: { failureThreshold: 3, openMs: OPEN_MS },
    clock: () => clock.now,
  })
  const errors: LayerErrorContext[] = []
  const store = createPermissionStore({
    layers: [memory, shared],
    source: postgresSource({
      connectionString: viaProxy(DATABASE_URL, pgProxy),
      poolOptions: {
        max: 3,
        connectionTimeoutMillis: 1000,
        options: `-c search_path=${schema.name}`,
      },
      timeoutMs: PG_TIMEOUT_MS,
    }),
    onError: (_error, context) => errors.push(context),
  })
  cleanup.push(async () => {
    await store.close()
    client.disconnect()
  })
  await store.ready()
  return { clock, client, memory, shared, store, errors }
}

async function expectUnavailable(store: PermissionStore, id: string, boundMs: number) {
  const { ms, result } = await timed(() => settle(store.lookup(id)))
  expect(result.ok, `${id} must not resolve`).toBe(false)
  const error = !result.ok ? result.error : undefined
  expect(error).toBeInstanceOf(AuthUnavailableError)
  expect(error).toMatchObject({ status: 503, code: 'auth_unavailable' })
  expect(ms).toBeLessThan(boundMs)
  return ms
}

describe('faults, produced for real', () => {
  it('Redis stalled: lookups fall through to PostgreSQL, the breaker stops paying the timeout, then it recovers', async () => {
    const { clock, client, shared, store, errors } = await build()
    redisProxy.stall()
    const commands = countRedisCommands(client)

    const slow: number[] = []
    let n = 0
    while (shared.circuit === 'closed' && n < 10) {
      const { ms, result } = await timed(() => store.lookup(`u${n++}`))
      expect(result).toEqual(READER)
      slow.push(ms)
    }
    expect(shared.circuit).toBe('open')
    expect(n).toBeLessThanOrEqual(3)
    expect(errors.some((e) => e.layer === 'redis' && e.operation === 'read')).toBe(true)
    for (const ms of slow) expect(ms).toBeLessThan(REDIS_TIMEOUT_MS + PG_TIMEOUT_MS)

    // Open circuit: Redis is not asked at all, and no lookup pays its timeout.
    await new Promise((resolve) => setTimeout(resolve, REDIS_TIMEOUT_MS + 50)) // let pending writes time out
    const before =
      commands.counts.size === 0 ? 0 : [...commands.counts.values()].reduce((a, b) => a + b)
    const fast: number[] = []
    for (let i = 0; i < 10; i++) {
      const { ms, result } = await timed(() => store.lookup(`u${n++}`))
      expect(result).toEqual(READER)
      fast.push(ms)
    }
    const after = [...commands.counts.values()].reduce((a, b) => a + b, 0)
    expect(after).toBe(before)
    console.log(
      `Redis stalled: ${slow.length} lookups paid the ${REDIS_TIMEOUT_MS} ms timeout (${slow.map((ms) => ms.toFixed(0)).join(', ')} ms), ` +
        `then circuit open: max ${Math.max(...fast).toFixed(1)} ms per lookup, 0 Redis commands`,
    )
    for (const ms of fast) expect(ms).toBeLessThan(REDIS_TIMEOUT_MS)

    // Back: the timeouts that opened the breaker also replaced the stalled connection; once the
    // client is ready again, after openMs, one probe goes through, succeeds, and Redis is used
    // again (no restart).
    redisProxy.restore()
    await expect.poll(() => client.status, { timeout: 5000 }).toBe('ready')
    clock.now += OPEN_MS
    expect(await store.lookup(`u${n}`)).toEqual(READER)
    expect(shared.circuit).toBe('closed')
    await expect
      .poll(() => direct.get(shared.keyOf(`u${n}`)))
      .toBe('{"p":["orders:read"],"r":["reader"]}')
  })

  it('Redis cut: lookups still answer, invalidate fails closed, and pub/sub resumes after a reconnect', async () => {
    const { clock, client, memory, shared, store } = await build()
    expect(await store.lookup('u20')).toEqual(READER)
    redisProxy.cut()
    // the subscription is lost: local copies are dropped (invalidations may be missed from now on)
    await expect.poll(() => shared.subscription?.state).toBe('lost')

    const { ms, result } = await timed(() => store.lookup('u21'))
    expect(result).toEqual(READER)
    expect(ms).toBeLessThan(REDIS_TIMEOUT_MS + PG_TIMEOUT_MS)
    expect(memory.get('u21')).toEqual(READER)

    const invalidation = await settle(store.invalidate('u20'))
    expect(!invalidation.ok && invalidation.error).toBeInstanceOf(AuthUnavailableError)
    expect(memory.get('u20')).toBeUndefined() // the local copy is gone anyway

    // Back: the subscriber reconnects and resubscribes; invalidations sent meanwhile may be lost,
    // so the local layer is flushed.
    redisProxy.restore()
    await expect.poll(() => memory.get('u21'), { timeout: 5000 }).toBeUndefined()
    await expect.poll(() => client.status, { timeout: 5000 }).toBe('ready')
    clock.now += OPEN_MS // the breaker lets a probe through
    await store.invalidate('u20')
    expect(await store.lookup('u21')).toEqual(READER)
    expect(shared.circuit).toBe('closed')
  })

  it('PostgreSQL cut: nothing cached → 503, cached → served within its TTL only, then it recovers', async () => {
    const { clock, shared, store } = await build()
    expect(await store.lookup('u30')).toEqual(READER)
    await expect.poll(() => direct.exists(shared.keyOf('u30'))).toBe(1)
    pgProxy.cut()

    const cold = await expectUnavailable(store, 'u31', PG_TIMEOUT_MS + 200)
    expect(await store.lookup('u30')).toEqual(READER) // memory, within its TTL

    const other = await build() // another instance: empty memory, Redis still has u30
    expect(await other.store.lookup('u30')).toEqual(READER)

    clock.now += 300_001 // memory TTL over; Redis TTL not
    expect(await store.lookup('u30')).toEqual(READER)
    clock.now += 300_001
    other.clock.now += 300_001
    await direct.pexpire(shared.keyOf('u30'), 1) // Redis TTL over too
    await expect.poll(() => direct.exists(shared.keyOf('u30'))).toBe(0)
    await expectUnavailable(store, 'u30', PG_TIMEOUT_MS + 200)
    await expectUnavailable(other.store, 'u30', PG_TIMEOUT_MS + 200)
    console.log(`PostgreSQL cut: a cold lookup failed closed (503) in ${cold.toFixed(1)} ms`)

    pgProxy.restore()
    expect(await store.lookup('u31')).toEqual(READER)
    expect(await store.lookup('u30')).toEqual(READER)
  })

  it('PostgreSQL stalled: no lookup waits longer than the source timeout, then it recovers', async () => {
    const { store } = await build()
    expect(await store.lookup('u40')).toEqual(READER) // a pooled connection exists
    pgProxy.stall()
    const { ms, result } = await timed(() =>
      Promise.all(['u41', 'u42', 'u43', 'u44', 'u45'].map((id) => settle(store.lookup(id)))),
    )
    for (const outcome of result) {
      expect(!outcome.ok && outcome.error).toBeInstanceOf(AuthUnavailableError)
    }
    console.log(
      `PostgreSQL stalled: 5 cold lookups failed closed after ${ms.toFixed(0)} ms (timeoutMs ${PG_TIMEOUT_MS})`,
    )
    expect(ms).toBeGreaterThanOrEqual(PG_TIMEOUT_MS - 10)
    expect(ms).toBeLessThan(PG_TIMEOUT_MS + 200)

    pgProxy.restore()
    expect(await store.lookup('u41')).toEqual(READER)
  })
})
