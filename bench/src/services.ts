/**
 * The machine's Redis and PostgreSQL, through the shared test support
 * (`@authframework/test-support/services`): one scratch schema per run (created, migrated with the
 * core's `migrate`, seeded, dropped at the end) and one unique Redis key prefix, shared by every
 * part that needs them. Loopback defaults; REDIS_URL / DATABASE_URL override. When a service is
 * unreachable the parts that need it are "not run" (a failure in CI, where the services exist).
 */
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  connectRedis as connectTestRedis,
  createTestSchema,
  DATABASE_URL,
  deleteKeys,
  REDIS_URL,
  type TestSchema,
} from '@authframework/test-support/services'
import type { Redis } from 'ioredis'
import pg from 'pg'
import type { CoreModule } from './ours.js'

export { DATABASE_URL, REDIS_URL }

/** Reason prefix of parts skipped because a service is unreachable; not a failure outside CI. */
export const NOT_RUN = 'not run'
/** True when an unreachable service must fail the run (CI has the services). */
export const servicesRequired = (): boolean => Boolean(process.env.CI)

/** Where the scratch data lives; handed to every child process that needs it. */
export interface StoreConfig {
  readonly databaseUrl: string
  readonly schema: string
  readonly redisUrl: string
  readonly keyPrefix: string
}

/** The folder above this file that holds `packages/core` (the bundles live in bench/.cache). */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (let i = 0; i < 8; i++, dir = dirname(dir))
    if (existsSync(join(dir, 'packages', 'core', 'migrations'))) return dir
  throw new Error('packages/core/migrations not found')
}

/** A connected ioredis client (the test support's) that fails fast and never reconnects. */
export function connectRedis(url = REDIS_URL): Promise<Redis> {
  return connectTestRedis(url, { commandTimeout: 1000, retryStrategy: () => null })
}

/** A pool whose connections live in the scratch schema. */
export function schemaPool(config: StoreConfig, max = 10, application_name?: string): pg.Pool {
  const pool = new pg.Pool({
    connectionString: config.databaseUrl,
    max,
    idleTimeoutMillis: 0, // connections kept for the whole part: no reconnection in a timed run
    connectionTimeoutMillis: 2000,
    options: `-c search_path=${config.schema}`,
    ...(application_name ? { application_name } : {}),
  })
  pool.on('error', () => {})
  return pool
}

export interface Scratch {
  readonly config: StoreConfig
  cleanup(): Promise<void>
}

/**
 * Creates `af_bench_<run>`, migrates it, seeds `users` users `user-0` … with the role `reader`
 * (`orders:read`, `profile:read`), and picks a fresh key prefix; `cleanup` removes both.
 */
export async function setUpScratch(core: CoreModule, users: number): Promise<Scratch> {
  const redis = await connectRedis()
  let schema: TestSchema
  try {
    schema = await createTestSchema({ prefix: 'af_bench' })
  } catch (error) {
    redis.disconnect()
    throw error
  }
  const config = {
    databaseUrl: DATABASE_URL,
    schema: schema.name,
    redisUrl: REDIS_URL,
    keyPrefix: `${schema.name}:`,
  }
  const cleanup = async () => {
    await deleteKeys(redis, config.keyPrefix).catch(() => {})
    redis.disconnect()
    await schema.drop().catch(() => {})
  }
  const pool = schemaPool(config, 2)
  try {
    await core.migrate(pool, { directory: join(repoRoot(), 'packages', 'core', 'migrations') })
    for (const sql of [
      `INSERT INTO roles (name) VALUES ('reader')`,
      `INSERT INTO permissions (name) VALUES ('orders:read'), ('profile:read')`,
      'INSERT INTO role_permissions (role_id, permission_id) SELECT r.id, p.id FROM roles r, permissions p',
      `INSERT INTO users (id, username) SELECT 'user-' || g, 'user-' || g FROM generate_series(0, ${users - 1}) g`,
      'INSERT INTO user_roles (user_id, role_id) SELECT u.id, r.id FROM users u, roles r',
    ])
      await pool.query(sql)
  } catch (error) {
    await cleanup()
    throw error
  } finally {
    await pool.end().catch(() => {})
  }
  return { config, cleanup }
}

export type StoreLayers = 'memory' | 'redis' | 'none'

/**
 * The core's permission store over the scratch schema: memory → Redis → PostgreSQL, Redis →
 * PostgreSQL, or PostgreSQL alone. `close` ends the store and its connections.
 */
export async function openStore(core: CoreModule, config: StoreConfig, layers: StoreLayers) {
  const redis = await connectRedis(config.redisUrl)
  const pool = schemaPool(config)
  const redisLayer = core.redisLayer({
    client: redis,
    keyPrefix: config.keyPrefix,
    ttlSeconds: 1800,
  })
  const store = core.createPermissionStore({
    layers:
      layers === 'memory'
        ? [core.memoryLayer({ max: 50_000, ttlSeconds: 300 }), redisLayer]
        : layers === 'redis'
          ? [redisLayer]
          : [],
    source: core.postgresSource({ pool }),
  })
  const close = async () => {
    await store.close()
    await pool.end().catch(() => {})
    redis.disconnect()
  }
  return { store, close }
}
