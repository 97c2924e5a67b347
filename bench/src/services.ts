/**
 * The machine's Redis and PostgreSQL for the permission-store and introspection benchmarks: a
 * scratch schema (created, migrated, seeded, dropped by the bench) and a unique Redis key prefix
 * per run. Loopback defaults; REDIS_URL / DATABASE_URL override. When a service is unreachable the
 * caller marks its rows "not run" (in CI, where the services exist, that is a failure).
 */
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Redis } from 'ioredis'
import pg from 'pg'

export const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'

/** Reason prefix of rows skipped because a service is unreachable; not a failure outside CI. */
export const NOT_RUN = 'not run'

/** True when an unreachable service must fail the run (CI has the services). */
export const servicesRequired = (): boolean => Boolean(process.env.CI)

export function runId(): string {
  return `${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`
}

/** The permissions every seeded user gets (through the role `reader`). */
export const SEEDED_PERMISSIONS = ['orders:read', 'profile:read'] as const

/**
 * The core's migrations folder. Found from this file because, once bundled (src/build.ts), the
 * core's own `import.meta.url` points into bench/.cache/dist.
 */
export function migrationsDirectory(): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (let i = 0; i < 8; i++) {
    const candidate = join(dir, 'packages', 'core', 'migrations')
    if (existsSync(candidate)) return candidate
    dir = dirname(dir)
  }
  throw new Error('packages/core/migrations not found')
}

/** A connected ioredis client with the fail-fast options the README recommends. */
export async function connectRedis(): Promise<Redis> {
  const client = new Redis(REDIS_URL, {
    enableOfflineQueue: false,
    commandTimeout: 1000,
    maxRetriesPerRequest: 1,
    connectTimeout: 1000,
    lazyConnect: true,
    retryStrategy: () => null,
  })
  client.on('error', () => {})
  try {
    await client.connect()
    await client.ping()
  } catch (error) {
    client.disconnect()
    throw new Error(`Redis unreachable at ${new URL(REDIS_URL).host}: ${describe(error)}`)
  }
  return client
}

/** Deletes every key under `prefix`. */
export async function deleteKeys(client: Redis, prefix: string): Promise<void> {
  let cursor = '0'
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
    if (keys.length > 0) await client.del(...keys)
    cursor = next
  } while (cursor !== '0')
}

function describe(error: unknown): string {
  const e = error as { message?: string; errors?: { message?: string }[] }
  return (e?.message || e?.errors?.[0]?.message || String(error)).split('\n')[0] as string
}

export interface ScratchSchema {
  readonly name: string
  /** Pool config whose connections live in the scratch schema. */
  poolConfig(max?: number): pg.PoolConfig
  drop(): Promise<void>
}

/** Creates `af_bench_<run>`, applies the core's migrations with `migrate`, seeds `users` users. */
export async function createScratchSchema(
  migrate: (pool: pg.Pool, options: { directory: string }) => Promise<unknown>,
  users: number,
): Promise<ScratchSchema> {
  const name = `af_bench_${runId()}`
  const admin = new pg.Pool({
    connectionString: DATABASE_URL,
    max: 1,
    connectionTimeoutMillis: 2000,
  })
  admin.on('error', () => {})
  try {
    await admin.query(`CREATE SCHEMA "${name}"`)
  } catch (error) {
    await admin.end().catch(() => {})
    throw new Error(`PostgreSQL unreachable at ${new URL(DATABASE_URL).host}: ${describe(error)}`)
  }
  const poolConfig = (max = 10): pg.PoolConfig => ({
    connectionString: DATABASE_URL,
    max,
    options: `-c search_path=${name}`,
  })
  const drop = async () => {
    await admin.query(`DROP SCHEMA IF EXISTS "${name}" CASCADE`).catch(() => {})
    await admin.end().catch(() => {})
  }
  const pool = new pg.Pool(poolConfig(2))
  pool.on('error', () => {})
  try {
    await migrate(pool, { directory: migrationsDirectory() })
    await pool.query(`INSERT INTO roles (name) VALUES ('reader')`)
    await pool.query(`INSERT INTO permissions (name) SELECT unnest($1::text[])`, [
      [...SEEDED_PERMISSIONS],
    ])
    await pool.query(
      `INSERT INTO role_permissions (role_id, permission_id) SELECT r.id, p.id FROM roles r, permissions p`,
    )
    await pool.query(
      `INSERT INTO users (id, username) SELECT 'user-' || g, 'user-' || g FROM generate_series(0, $1 - 1) g`,
      [users],
    )
    await pool.query(
      `INSERT INTO user_roles (user_id, role_id) SELECT u.id, r.id FROM users u, roles r`,
    )
  } catch (error) {
    await pool.end().catch(() => {})
    await drop()
    throw error
  }
  await pool.end()
  return { name, poolConfig, drop }
}

export interface StoreSetup {
  readonly config: {
    readonly databaseUrl: string
    readonly schema: string
    readonly redisUrl: string
    readonly keyPrefix: string
  }
  cleanup(): Promise<void>
}

/** For HTTP scenario (e): a migrated, seeded scratch schema and a fresh key prefix; `cleanup` removes both. */
export async function setUpStore(users: number): Promise<StoreSetup> {
  const { migrate } = (await import('@authframework/core')) as unknown as {
    migrate(pool: pg.Pool, o: { directory: string }): Promise<unknown>
  }
  const redis = await connectRedis()
  let schema: ScratchSchema
  try {
    schema = await createScratchSchema(migrate, users)
  } catch (error) {
    redis.disconnect()
    throw error
  }
  const keyPrefix = `af_bench_${runId()}:`
  return {
    config: { databaseUrl: DATABASE_URL, schema: schema.name, redisUrl: REDIS_URL, keyPrefix },
    async cleanup() {
      await deleteKeys(redis, keyPrefix).catch(() => {})
      redis.disconnect()
      await schema.drop()
    },
  }
}
