/**
 * The whole chain, memory → Redis → PostgreSQL, on the machine's real services: read-through with
 * backfill, single flight, batching, negative caching, cross-instance invalidation.
 */

import {
  connectRedis,
  countExisting,
  countQueries,
  countRedisCommands,
  createTestSchema,
  deleteKeys,
  mgetCount,
  runId,
  seed,
  type TestSchema,
} from '@authframework/test-support/services'
import type { Redis } from 'ioredis'
import type pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createPermissionStore,
  type MemoryLayer,
  memoryLayer,
  migrate,
  PERMISSION_STATEMENTS,
  type PermissionStore,
  postgresSource,
  type RedisLayer,
  redisLayer,
} from '../../../src/index.js'
import { createMetrics } from '../../../src/metrics/metrics.js'
import type { PermissionRecord } from '../../../src/types.js'

const prefix = `aftest:${runId()}:`
/** Ids are data: none of these may collide, match a pattern, or reach SQL or RESP as syntax. */
const ODD_IDS = [
  '*',
  'a*',
  '?',
  "o'brien",
  '"q"',
  'x\r\nDEL y',
  ' sp ace ',
  'ünï😀',
  '%',
  'a:b',
  '\\',
]
let schema: TestSchema
let pool: pg.Pool
let redis: Redis
const cleanup: Array<() => Promise<unknown> | unknown> = []

beforeAll(async () => {
  ;[schema, redis] = await Promise.all([createTestSchema(), connectRedis()])
  pool = schema.pool({ max: 3 })
  await migrate(pool)
  await seed(pool, {
    roles: { reader: ['orders:read'], writer: ['orders:write'] },
    users: [
      { id: 'alice', roles: ['reader'] },
      { id: 'inactive', active: false, roles: ['reader'] },
      ...Array.from({ length: 100 }, (_, i) => ({
        id: `bulk-${i}`,
        roles: i % 2 ? ['reader'] : ['writer'],
      })),
      ...Array.from({ length: 3 }, (_, i) => ({ id: `single-${i}`, roles: ['reader'] })),
      { id: 'mover', roles: ['reader'] },
      { id: 'racer', roles: ['reader'] },
      ...ODD_IDS.map((id, i) => ({ id, roles: [i % 2 ? 'reader' : 'writer'] })),
    ],
  })
})

afterAll(async () => {
  for (const fn of cleanup.reverse()) await fn()
  if (redis) {
    await deleteKeys(redis, prefix)
    redis.disconnect()
  }
  await schema?.drop()
})

interface Instance {
  store: PermissionStore
  memory: MemoryLayer
  redisLayer: RedisLayer
}

/** One "application instance": its own Redis client, memory layer and store. */
async function instance(
  options: { client?: Redis; source?: Parameters<typeof createPermissionStore>[0]['source'] } = {},
): Promise<Instance> {
  const client = options.client ?? (await connectRedis())
  if (!options.client) cleanup.push(() => client.disconnect())
  const memory = memoryLayer({ max: 50_000, ttlSeconds: 300 })
  const shared = redisLayer({ client, keyPrefix: prefix, ttlSeconds: 1800 })
  const store = createPermissionStore({
    layers: [memory, shared],
    source: options.source ?? postgresSource({ pool }),
  })
  cleanup.push(() => store.close())
  await store.ready()
  return { store, memory, redisLayer: shared }
}

async function setRoles(userId: string, roles: readonly string[]): Promise<void> {
  await pool.query('DELETE FROM user_roles WHERE user_id = $1', [userId])
  await pool.query(
    'INSERT INTO user_roles (user_id, role_id) SELECT $1, id FROM roles WHERE name = ANY($2)',
    [userId, roles],
  )
}

describe('permission store on memory, Redis and PostgreSQL', () => {
  it('reads through and backfills Redis (SET EX, pipelined) and memory', async () => {
    const a = await instance({ client: redis })
    const commands = countRedisCommands(redis)
    const queries = countQueries(pool)

    expect(await a.store.lookup('alice')).toEqual({
      permissions: ['orders:read'],
      roles: ['reader'],
    })
    expect(commands.get('get')).toBe(1) // L1 miss → L2 read
    expect(queries.byName.get(PERMISSION_STATEMENTS.one)).toBe(1) // L2 miss → PostgreSQL
    await expect
      .poll(() => redis.get(a.redisLayer.keyOf('alice')))
      .toBe('{"p":["orders:read"],"r":["reader"]}')
    expect(commands.pipelined.get('set')).toBe(1)
    const ttl = await redis.ttl(a.redisLayer.keyOf('alice'))
    expect(ttl).toBeGreaterThan(1790)
    expect(a.memory.get('alice')).toEqual({ permissions: ['orders:read'], roles: ['reader'] })

    // Warm: memory answers, nothing else is asked.
    commands.reset()
    queries.reset()
    await a.store.lookup('alice')
    expect(commands.counts.size + queries.total()).toBe(0)

    // Another instance: its memory misses, Redis answers, PostgreSQL is not asked; memory is backfilled.
    const b = await instance()
    queries.reset()
    expect(await b.store.lookup('alice')).toEqual({
      permissions: ['orders:read'],
      roles: ['reader'],
    })
    expect(queries.total()).toBe(0)
    expect(b.memory.get('alice')).toEqual({ permissions: ['orders:read'], roles: ['reader'] })
  })

  it('single flight: 100 concurrent lookups of one cold user → 1 Redis read, 1 SQL query', async () => {
    const a = await instance({ client: redis })
    const commands = countRedisCommands(redis)
    const queries = countQueries(pool)
    const answers = await Promise.all(Array.from({ length: 100 }, () => a.store.lookup('single-0')))
    const reads = commands.get('get') + commands.get('mget')
    const sql = queries.total()
    console.log(`single flight: 100 lookups → ${reads} Redis read(s), ${sql} SQL query(ies)`)
    expect(reads).toBe(1)
    expect(sql).toBe(1)
    expect(new Set(answers).size).toBe(1)
  })

  it('batching: 100 different cold users in one tick → 1 pipelined Redis read, ≤ 2 SQL queries', async () => {
    const a = await instance({ client: redis })
    const commands = countRedisCommands(redis)
    const queries = countQueries(pool)
    const ids = Array.from({ length: 100 }, (_, i) => `bulk-${i}`)
    const answers = await Promise.all(ids.map((id) => a.store.lookup(id)))
    expect(answers.map((answer) => answer?.roles?.[0])).toEqual(
      ids.map((_, i) => (i % 2 ? 'reader' : 'writer')),
    )
    const sql = queries.total()
    console.log(
      `batching: 100 users → MGET ${commands.get('mget')}, GET ${commands.get('get')}, SQL ${sql} (${[...queries.byName.keys()].join(', ')})`,
    )
    const mgets = await mgetCount(redis, ids.map(a.redisLayer.keyOf))
    expect(commands.get('mget')).toBe(mgets) // a Cluster: one per slot, a pipeline per node
    expect(commands.get('get')).toBe(0)
    expect(sql).toBeGreaterThanOrEqual(1)
    expect(sql).toBeLessThanOrEqual(2)
    await expect.poll(() => commands.pipelined.get('set')).toBe(100) // one pipeline of SET EX
    expect(commands.get('set')).toBe(100)

    // And now they are all in Redis: a fresh instance reads them with one MGET and no SQL.
    const b = await instance({ client: redis })
    commands.reset()
    queries.reset()
    await Promise.all(ids.map((id) => b.store.lookup(id)))
    expect([commands.get('mget'), queries.total()]).toEqual([mgets, 0])
  })

  it('negative caching: unknown and inactive users are cached as such and answer null', async () => {
    const a = await instance({ client: redis })
    const queries = countQueries(pool)
    expect(await Promise.all([a.store.lookup('inactive'), a.store.lookup('nobody')])).toEqual([
      null,
      null,
    ])
    expect(queries.total()).toBe(1) // one batch
    expect(a.memory.get('inactive')).toBeNull()
    await expect.poll(() => redis.get(a.redisLayer.keyOf('nobody'))).toBe('null')
    const ttl = await redis.ttl(a.redisLayer.keyOf('nobody'))
    expect(ttl).toBeGreaterThan(20)
    expect(ttl).toBeLessThanOrEqual(30)

    const b = await instance({ client: redis })
    queries.reset()
    expect(await b.store.lookup('nobody')).toBeNull()
    expect(queries.total()).toBe(0) // from Redis
  })

  it('invalidate() reaches the memory of every instance within 100 ms', async () => {
    const a = await instance()
    const b = await instance()
    const latencies: number[] = []
    for (let round = 0; round < 20; round++) {
      const [before, roles] = round % 2 ? [['writer'], ['reader']] : [['reader'], ['writer']]
      await setRoles('mover', before)
      await Promise.all([a.store.lookup('mover'), b.store.lookup('mover')])
      expect(b.memory.get('mover')).toBeDefined()
      await setRoles('mover', roles)

      const start = performance.now()
      await a.store.invalidate('mover')
      while (b.memory.get('mover') !== undefined) {
        if (performance.now() - start > 1000) break
        await new Promise((resolve) => setImmediate(resolve))
      }
      latencies.push(performance.now() - start)
      expect(a.memory.get('mover')).toBeUndefined()
      expect((await b.store.lookup('mover'))?.roles).toEqual(roles)
      expect((await a.store.lookup('mover'))?.roles).toEqual(roles)
    }
    latencies.sort((x, y) => x - y)
    const median = latencies[latencies.length >> 1]!
    const max = latencies[latencies.length - 1]!
    console.log(
      `invalidation across instances: median ${median.toFixed(2)} ms, max ${max.toFixed(2)} ms over ${latencies.length} rounds`,
    )
    expect(max).toBeLessThan(100)
  })

  it('a load that read old data before an invalidation does not cache it anywhere', async () => {
    await setRoles('racer', ['reader'])
    let release!: () => void
    const gate = new Promise<void>((resolve) => {
      release = resolve
    })
    let readOld!: () => void
    const hasRead = new Promise<void>((resolve) => {
      readOld = resolve
    })
    const pgSource = postgresSource({ pool })
    // Real PostgreSQL read, then held before the answer reaches the store.
    const slow = {
      lookup: async (id: string): Promise<PermissionRecord | null> => {
        const record = await pgSource.lookup(id)
        readOld()
        await gate
        return record
      },
    }
    const clientA = await connectRedis()
    cleanup.push(() => clientA.disconnect())
    const a = await instance({ client: clientA, source: slow })
    const b = await instance()
    const arrived = new Promise<void>((resolve) => {
      a.redisLayer.subscribe({ invalidated: (id) => id === 'racer' && resolve(), reset: () => {} })
    })

    const inFlight = a.store.lookup('racer')
    await hasRead
    await setRoles('racer', ['writer'])
    await b.store.invalidate('racer') // another instance: reaches a over pub/sub
    await arrived
    const commands = countRedisCommands(clientA)
    release()
    expect((await inFlight)?.roles).toEqual(['reader']) // started before: gets what it read
    // Backfill happens before the answer is delivered: had it run, these would hold the old record.
    expect(a.memory.get('racer')).toBeUndefined()
    expect(commands.get('set')).toBe(0)
    expect(await redis.get(a.redisLayer.keyOf('racer'))).toBeNull()
    expect((await a.store.lookup('racer'))?.roles).toEqual(['writer'])
  })

  it('treats user ids as data end to end (Redis keys, SQL, invalidation)', async () => {
    const a = await instance({ client: redis })
    const b = await instance()
    const expected = ODD_IDS.map((_, i) => (i % 2 ? 'reader' : 'writer'))
    expect(
      (await Promise.all(ODD_IDS.map((id) => a.store.lookup(id)))).map((r) => r?.roles?.[0]),
    ).toEqual(expected)
    await expect
      .poll(() =>
        countExisting(
          redis,
          ODD_IDS.map((id) => a.redisLayer.keyOf(id)),
        ),
      )
      .toBe(ODD_IDS.length)
    expect(
      (await Promise.all(ODD_IDS.map((id) => b.store.lookup(id)))).map((r) => r?.roles?.[0]),
    ).toEqual(expected)

    await a.store.invalidate('*')
    await expect.poll(() => b.memory.get('*')).toBeUndefined()
    expect(await redis.exists(a.redisLayer.keyOf('*'))).toBe(0)
    for (const id of ODD_IDS.slice(1)) {
      expect(b.memory.get(id), JSON.stringify(id)).toBeDefined()
      expect(await redis.exists(a.redisLayer.keyOf(id)), JSON.stringify(id)).toBe(1)
    }
  })

  it('records hits and misses per layer and the latency of Redis and PostgreSQL', async () => {
    const metrics = createMetrics()
    const store = createPermissionStore({
      layers: [memoryLayer(), redisLayer({ client: redis, keyPrefix: `${prefix}metrics:` })],
      source: postgresSource({ pool }),
      metrics,
    })
    cleanup.push(() => store.close())
    // the invalidation channel resets memory when it first comes up: wait for it, or under load
    // that reset lands between the two lookups (a memory miss where a hit is counted)
    await store.ready()
    await store.lookup('alice') // memory miss, Redis miss, PostgreSQL
    await store.lookup('alice') // memory hit
    const snap = metrics.snapshot()
    expect(snap.layers).toEqual({ memory: { hits: 1, misses: 1 }, redis: { hits: 0, misses: 1 } })
    expect(snap.latency.redis.count).toBe(1)
    expect(snap.latency.postgres.count).toBe(1)
    expect(snap.latency.postgres.p50).toBeGreaterThan(0)
  })
})
