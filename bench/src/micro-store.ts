/**
 * Permission lookups per layer of the core's store (issue 3), against the machine's Redis and
 * PostgreSQL: a memory hit, a Redis hit (no memory layer), a PostgreSQL lookup with no cache
 * layer, and 100 concurrent cold lookups of different users (batched by the store). A scratch
 * schema and a unique key prefix are created and removed here. Unreachable services: the rows
 * are reported "not run".
 */
import type { Redis } from 'ioredis'
import pg from 'pg'
import type { Contender, GroupResult, MicroOptions, Role } from './micro.js'
import { runGroup } from './micro.js'
import {
  connectRedis,
  createScratchSchema,
  deleteKeys,
  NOT_RUN,
  runId,
  type ScratchSchema,
} from './services.js'

interface Store {
  lookup(subject: string): Promise<{ permissions: readonly string[] } | null>
  close(): Promise<void>
}

type StoreCore = {
  createPermissionStore(o: unknown): Store
  memoryLayer(o: unknown): unknown
  redisLayer(o: unknown): unknown
  postgresSource(o: unknown): unknown
  migrate(pool: pg.Pool, o: { directory: string }): Promise<unknown>
}

export const BATCH = 100

const NAMES = {
  memory: 'memory hit (memory → Redis → PostgreSQL)',
  redis: 'Redis hit (no memory layer)',
  postgres: 'PostgreSQL, no cache layer',
  batch: `${BATCH} concurrent cold lookups, no cache layer (per batch)`,
} as const

export { NAMES as STORE_CONTENDERS }

const recordSub = (r: unknown) =>
  Array.isArray((r as { permissions?: unknown } | null)?.permissions) ? 'user-found' : undefined
const batchSub = (r: unknown) =>
  Array.isArray(r) && r.length === BATCH && r.every((x) => recordSub(x)) ? 'user-batch' : undefined

export async function runStoreLookups(opts: MicroOptions): Promise<GroupResult[]> {
  const id = 'permissions'
  const title = 'Permission lookups per layer (Redis and PostgreSQL on 127.0.0.1)'
  const users = Math.max(opts.poolSize, BATCH * 2)
  const subjects = Array.from({ length: users }, (_, i) => `user-${i}`)
  const notRun = async (reason: string) => {
    opts.log(`  ${title}: ${reason}`)
    return [
      await runGroup(
        id,
        title,
        'Not run.',
        [],
        Object.values(NAMES).map((name) => ({ name, role: 'ours' as Role, reason })),
        opts,
      ),
    ]
  }
  let core: StoreCore
  try {
    core = (await import('@authframework/core')) as unknown as StoreCore
    if (typeof core.createPermissionStore !== 'function')
      throw new Error('no createPermissionStore')
  } catch (error) {
    return notRun(`failed: the core's store cannot be loaded: ${String(error)}`)
  }
  let redis: Redis | undefined
  let schema: ScratchSchema | undefined
  let pool: pg.Pool | undefined
  const stores: Store[] = []
  const keyPrefix = `af_bench_${runId()}:`
  try {
    try {
      redis = await connectRedis()
      schema = await createScratchSchema(core.migrate, users)
    } catch (error) {
      return notRun(`${NOT_RUN}: ${error instanceof Error ? error.message : String(error)}`)
    }
    pool = new pg.Pool(schema.poolConfig(10))
    pool.on('error', () => {})
    const source = core.postgresSource({ pool })
    const store = (layers: unknown[]) => {
      const s = core.createPermissionStore({ layers, source })
      stores.push(s)
      return s
    }
    const redisLayer = () => core.redisLayer({ client: redis, keyPrefix, ttlSeconds: 1800 })
    const full = store([core.memoryLayer({ max: 50_000, ttlSeconds: 300 }), redisLayer()])
    const redisOnly = store([redisLayer()])
    const cold = store([])
    const batchStarts = Array.from({ length: Math.floor(users / BATCH) }, (_, i) => `${i * BATCH}`)
    const primeAll = (s: Store) => async () => {
      for (const sub of subjects) await s.lookup(sub)
    }
    const contenders: Contender[] = [
      {
        name: NAMES.memory,
        role: 'ours',
        tokens: subjects,
        run: (sub) => full.lookup(sub),
        async: true,
        subOf: recordSub,
        prime: primeAll(full),
      },
      {
        name: NAMES.redis,
        role: 'ours',
        tokens: subjects,
        run: (sub) => redisOnly.lookup(sub),
        async: true,
        subOf: recordSub,
        prime: primeAll(redisOnly),
      },
      {
        name: NAMES.postgres,
        role: 'ours',
        tokens: subjects,
        run: (sub) => cold.lookup(sub),
        async: true,
        subOf: recordSub,
      },
      {
        name: NAMES.batch,
        role: 'ours',
        tokens: batchStarts,
        run: (start) => {
          const first = Number(start)
          const all: Promise<unknown>[] = []
          for (let i = 0; i < BATCH; i++) all.push(cold.lookup(`user-${first + i}`))
          return Promise.all(all)
        },
        async: true,
        subOf: batchSub,
      },
    ]
    return [
      await runGroup(
        id,
        title,
        `Core \`createPermissionStore\` over \`postgresSource\` (a scratch schema, ${users} seeded users with one role and ${2} permissions), \`redisLayer\` (a unique key prefix) and \`memoryLayer\`. Hits are primed before timing; the last two rows have no cache layer, so every lookup reaches PostgreSQL. One call at a time, awaited. Ratios are to the memory hit.`,
        contenders,
        [],
        opts,
      ),
    ]
  } finally {
    await Promise.allSettled(stores.map((s) => s.close()))
    await pool?.end().catch(() => {})
    if (redis) {
      await deleteKeys(redis, keyPrefix).catch(() => {})
      redis.disconnect()
    }
    await schema?.drop()
  }
}
