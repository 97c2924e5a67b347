/**
 * The machine's real PostgreSQL and Redis for integration tests (`*.int.test.ts`) and the
 * benchmark: a fresh schema and a unique key prefix per test file, call counters, and seeding.
 * Unreachable services make the tests fail (with a message saying what to start), never skip.
 */
import { randomBytes } from 'node:crypto'
import type { Cluster, Redis, RedisOptions } from 'ioredis'
import pg from 'pg'
import { createRedisClient, redisTargetUrl } from './redis-target.js'

export const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'

export * from './redis-target.js'

/** A short id unique to this run, for schema names and key prefixes. */
export function runId(): string {
  return `${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`
}

/** Host and port of a `postgres://` or `redis://` URL (to put a proxy in front of it). */
export function endpointOf(url: string, defaultPort: number): { host: string; port: number } {
  const parsed = new URL(url)
  return { host: parsed.hostname || '127.0.0.1', port: Number(parsed.port || defaultPort) }
}

/** `url` with its host and port replaced (to go through a proxy). */
export function viaProxy(url: string, proxy: { host: string; port: number }): string {
  const parsed = new URL(url)
  parsed.hostname = proxy.host
  parsed.port = String(proxy.port)
  return parsed.toString()
}

export interface TestSchema {
  readonly name: string
  /** Pool options that put every connection in this schema (`search_path`). */
  poolConfig(extra?: pg.PoolConfig): pg.PoolConfig
  /** A pool in this schema; ended by `drop()`. */
  pool(extra?: pg.PoolConfig): pg.Pool
  /** Drops the schema and ends the pools made by `pool()`. */
  drop(): Promise<void>
}

/**
 * Creates a fresh schema `<prefix>_<run>` (`af_test_<run>` by default); fails loudly when
 * PostgreSQL is unreachable.
 */
export async function createTestSchema({ prefix = 'af_test' } = {}): Promise<TestSchema> {
  const name = `${prefix}_${runId()}`
  const admin = new pg.Pool({
    connectionString: DATABASE_URL,
    max: 1,
    connectionTimeoutMillis: 5000,
  })
  admin.on('error', () => {})
  try {
    await admin.query(`CREATE SCHEMA "${name}"`)
  } catch (error) {
    await admin.end()
    throw new Error(
      `PostgreSQL is not reachable at ${new URL(DATABASE_URL).host} (set DATABASE_URL).`,
      { cause: error },
    )
  }
  const pools: pg.Pool[] = []
  const poolConfig = (extra: pg.PoolConfig = {}): pg.PoolConfig => ({
    connectionString: DATABASE_URL,
    max: 4,
    ...extra,
    options: `-c search_path=${name}`,
  })
  return {
    name,
    poolConfig,
    pool(extra) {
      const pool = new pg.Pool(poolConfig(extra))
      pool.on('error', () => {})
      pools.push(pool)
      return pool
    },
    async drop() {
      await Promise.allSettled(pools.map((pool) => pool.end()))
      await admin.query(`DROP SCHEMA IF EXISTS "${name}" CASCADE`)
      await admin.end()
    },
  }
}

/** The client options the README recommends: fail fast while Redis is away. */
export const FAIL_FAST: RedisOptions = {
  enableOfflineQueue: false,
  commandTimeout: 200,
  maxRetriesPerRequest: 1,
  connectTimeout: 1000,
  retryStrategy: () => 50,
}

/**
 * A connected ioredis client (or Cluster: see {@link createRedisClient}) with the recommended
 * options, on the Redis of this run by default; fails loudly when Redis is unreachable.
 */
export async function connectRedis(
  url = redisTargetUrl(),
  options: RedisOptions = {},
): Promise<Redis> {
  const client = createRedisClient(url, { ...FAIL_FAST, lazyConnect: true, ...options })
  client.on('error', () => {})
  try {
    await client.connect()
    await client.ping()
  } catch (error) {
    client.disconnect()
    throw new Error(`Redis is not reachable at ${url.replace(/^.*@/, '')} (set REDIS_URL).`, {
      cause: error,
    })
  }
  return client
}

/** Deletes every key under `prefix` (which must contain no glob character), on every master of a Cluster. */
export async function deleteKeys(client: Redis, prefix: string): Promise<void> {
  const cluster = client as unknown as Partial<Cluster>
  if (cluster.isCluster === true && cluster.nodes !== undefined) {
    await Promise.all(cluster.nodes('master').map((node) => deleteNodeKeys(node, prefix, true)))
    return
  }
  await deleteNodeKeys(client, prefix, false)
}

/** `oneByOne`: a Cluster node refuses a DEL of keys in different slots. */
async function deleteNodeKeys(client: Redis, prefix: string, oneByOne: boolean): Promise<void> {
  let cursor = '0'
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
    if (keys.length > 0 && !oneByOne) await client.del(...keys)
    if (keys.length > 0 && oneByOne) {
      const pipeline = client.pipeline()
      for (const key of keys) pipeline.del(key)
      await pipeline.exec()
    }
    cursor = next
  } while (cursor !== '0')
}

/** Counts the commands a client sends, by lower-case name; `pipelined` counts those sent in a pipeline or MULTI. */
export function countRedisCommands(client: Redis): {
  readonly counts: Map<string, number>
  readonly pipelined: Map<string, number>
  get(name: string): number
  reset(): void
} {
  const counts = new Map<string, number>()
  const pipelined = new Map<string, number>()
  const original = client.sendCommand.bind(client)
  client.sendCommand = ((command: { name: string }, stream?: unknown, node?: unknown) => {
    const name = command.name.toLowerCase()
    counts.set(name, (counts.get(name) ?? 0) + 1)
    if (stream !== undefined) pipelined.set(name, (pipelined.get(name) ?? 0) + 1)
    return (original as (...args: unknown[]) => unknown)(command, stream, node)
  }) as typeof client.sendCommand
  return {
    counts,
    pipelined,
    get: (name) => counts.get(name) ?? 0,
    reset() {
      counts.clear()
      pipelined.clear()
    },
  }
}

/** The query runner's own statements (session settings, transactions, probes): not counted. */
const HOUSEKEEPING = /^(SET statement_timeout|BEGIN|COMMIT$|ROLLBACK$|SELECT 1$)/

/**
 * Counts the queries run through `pool.query` and on connections checked out with `pool.connect`
 * (the core's query runner), by statement name (`text` for unnamed ones).
 */
export function countQueries(pool: pg.Pool): {
  readonly byName: Map<string, number>
  total(): number
  reset(): void
} {
  const byName = new Map<string, number>()
  const count = (first: { name?: string; text?: string } | string) => {
    const name = typeof first === 'string' ? first : (first.name ?? first.text ?? '?')
    if (HOUSEKEEPING.test(name)) return
    byName.set(name, (byName.get(name) ?? 0) + 1)
  }
  // pool.query checks a connection out too: counting on the connections counts every query once
  const counted = new WeakSet<object>()
  const wrap = (client: pg.PoolClient) => {
    if (counted.has(client)) return
    counted.add(client)
    const query = client.query.bind(client) as (...args: unknown[]) => unknown
    ;(client as { query: unknown }).query = (...args: unknown[]) => {
      count(args[0] as { name?: string; text?: string } | string)
      return query(...args)
    }
  }
  const connect = pool.connect.bind(pool) as (...args: unknown[]) => unknown
  ;(pool as { connect: unknown }).connect = (...args: unknown[]) => {
    const callback = args[0] as
      | ((error: Error | undefined, client: pg.PoolClient | undefined, done: unknown) => void)
      | undefined
    if (typeof callback === 'function') {
      return connect(
        (error: Error | undefined, client: pg.PoolClient | undefined, done: unknown) => {
          if (client) wrap(client)
          callback(error, client, done)
        },
      )
    }
    return (connect() as Promise<pg.PoolClient>).then((client) => {
      wrap(client)
      return client
    })
  }
  return {
    byName,
    total: () => [...byName.values()].reduce((a, b) => a + b, 0),
    reset: () => byName.clear(),
  }
}

export interface SeedUser {
  readonly id: string
  readonly active?: boolean
  readonly roles?: readonly string[]
}

/** Inserts roles (with their permissions) and users (with their roles). */
export async function seed(
  pool: pg.Pool,
  data: { roles?: Record<string, readonly string[]>; users?: readonly SeedUser[] },
): Promise<void> {
  const client = await pool.connect()
  try {
    await client.query('BEGIN')
    for (const [role, permissions] of Object.entries(data.roles ?? {})) {
      await client.query('INSERT INTO roles (name) VALUES ($1) ON CONFLICT (name) DO NOTHING', [
        role,
      ])
      for (const permission of permissions) {
        await client.query(
          'INSERT INTO permissions (name) VALUES ($1) ON CONFLICT (name) DO NOTHING',
          [permission],
        )
        await client.query(
          `INSERT INTO role_permissions (role_id, permission_id)
           SELECT r.id, p.id FROM roles r, permissions p WHERE r.name = $1 AND p.name = $2
           ON CONFLICT DO NOTHING`,
          [role, permission],
        )
      }
    }
    for (const user of data.users ?? []) {
      await client.query(
        `INSERT INTO users (id, username, active) VALUES ($1, $1, $2)
         ON CONFLICT (id) DO UPDATE SET active = excluded.active`,
        [user.id, user.active ?? true],
      )
      for (const role of user.roles ?? []) {
        await client.query(
          `INSERT INTO user_roles (user_id, role_id) SELECT $1, id FROM roles WHERE name = $2
           ON CONFLICT DO NOTHING`,
          [user.id, role],
        )
      }
    }
    await client.query('COMMIT')
  } catch (error) {
    await client.query('ROLLBACK')
    throw error
  } finally {
    client.release()
  }
}

/** Milliseconds elapsed while `fn` runs. */
export async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; result: T }> {
  const start = performance.now()
  const result = await fn()
  return { ms: performance.now() - start, result }
}

/** Settles to `{ ok, value | error }` so a rejection can be inspected after timing. */
export async function settle<T>(
  promise: Promise<T>,
): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  try {
    return { ok: true, value: await promise }
  } catch (error) {
    return { ok: false, error }
  }
}
