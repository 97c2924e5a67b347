/**
 * The set-ups the fault tests share, each registering its own vitest hooks (call one once at the
 * top of a file):
 * - Redis: a fresh migrated schema, a direct Redis client, a TCP proxy in front of Redis, a unique
 *   key prefix, and a cleanup list run (last first) after each test, with the proxy restored;
 * - PostgreSQL: a fresh migrated, seeded schema, a TCP proxy in front of PostgreSQL, and the same
 *   cleanup list.
 */

import { migrate } from '@authframework/core'
import type { Redis } from 'ioredis'
import type pg from 'pg'
import { afterAll, afterEach, beforeAll } from 'vitest'
import {
  connectRedis,
  createTestSchema,
  DATABASE_URL,
  deleteKeys,
  endpointOf,
  REDIS_URL,
  runId,
  type SeedUser,
  seed,
  type TestSchema,
} from './services.js'
import { startTcpProxy, type TcpProxy } from './tcp-proxy.js'

export interface RedisFaultFixture {
  readonly schema: TestSchema
  readonly pool: pg.Pool
  /** A client that never goes through the proxy: to look at what Redis holds. */
  readonly direct: Redis
  readonly proxy: TcpProxy
}

export interface RedisFaultFixtureOptions {
  /** `max` of the test pool. Default 8. */
  readonly poolMax?: number
  /** Rows to seed after migrating. */
  readonly seed?: { roles?: Record<string, readonly string[]>; users?: readonly SeedUser[] }
  /** Cleanups registered in `beforeAll` that must outlive each test (they run in `afterAll`). */
  readonly keep?: number
}

/**
 * Registers the hooks and returns the prefix, the cleanup list and `ready()`, which gives the
 * schema, pool, direct client and proxy once `beforeAll` has run.
 *
 * @example
 * const fault = useRedisFaultFixture({ seed: { users: [{ id: 'alice' }] } })
 * let pool: pg.Pool
 * beforeAll(() => ({ pool } = fault.ready()))
 */
export function useRedisFaultFixture(options: RedisFaultFixtureOptions = {}) {
  const prefix = `aftest:${runId()}:`
  const cleanup: Array<() => unknown> = []
  let fixture: RedisFaultFixture | undefined

  beforeAll(async () => {
    const [schema, direct, proxy] = await Promise.all([
      createTestSchema(),
      connectRedis(),
      startTcpProxy(endpointOf(REDIS_URL, 6379)),
    ])
    const pool = schema.pool({ max: options.poolMax ?? 8 })
    await migrate(pool)
    if (options.seed !== undefined) await seed(pool, options.seed)
    fixture = { schema, pool, direct, proxy }
  })

  afterEach(async () => {
    fixture?.proxy.restore()
    for (const fn of cleanup.splice(options.keep ?? 0).reverse()) await fn()
  })

  afterAll(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn()
    await fixture?.proxy.close()
    if (fixture !== undefined) {
      await deleteKeys(fixture.direct, prefix)
      fixture.direct.disconnect()
      await fixture.schema.drop()
    }
  })

  return {
    prefix,
    cleanup,
    ready(): RedisFaultFixture {
      if (fixture === undefined) throw new Error('useRedisFaultFixture: used before beforeAll ran')
      return fixture
    },
  }
}

export interface PostgresFaultFixture {
  readonly schema: TestSchema
  /** The proxy in front of PostgreSQL: connect through `viaProxy(DATABASE_URL, proxy)`. */
  readonly proxy: TcpProxy
}

/**
 * Registers the hooks and returns the cleanup list and `ready()`, which gives the schema
 * (migrated and seeded through a direct pool) and the proxy once `beforeAll` has run.
 *
 * @example
 * const fault = usePostgresFaultFixture({ seed: { users: [{ id: 'u0' }] } })
 * let proxy: TcpProxy
 * beforeAll(() => ({ proxy } = fault.ready()))
 */
export function usePostgresFaultFixture(options: Pick<RedisFaultFixtureOptions, 'seed'> = {}) {
  const cleanup: Array<() => unknown> = []
  let fixture: PostgresFaultFixture | undefined

  beforeAll(async () => {
    const [schema, proxy] = await Promise.all([
      createTestSchema(),
      startTcpProxy(endpointOf(DATABASE_URL, 5432)),
    ])
    const direct = schema.pool({ max: 2 })
    await migrate(direct)
    if (options.seed !== undefined) await seed(direct, options.seed)
    fixture = { schema, proxy }
  })

  afterEach(async () => {
    fixture?.proxy.restore()
    for (const fn of cleanup.splice(0).reverse()) await fn()
  })

  afterAll(async () => {
    await fixture?.proxy.close()
    await fixture?.schema.drop()
  })

  return {
    cleanup,
    ready(): PostgresFaultFixture {
      if (fixture === undefined)
        throw new Error('usePostgresFaultFixture: used before beforeAll ran')
      return fixture
    },
  }
}
