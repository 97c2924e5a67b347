/**
 * What the cluster tests that start a cluster of their own (failover, resharding) share: the
 * cluster and a migrated, seeded schema for the file, cleanups after each test, one "instance"
 * (permission store, session store and revocation list on one Cluster client, with a change log),
 * and the polling they measure with.
 */

import { type LocalCluster, startRedisCluster } from '@authframework/test-support/redis-cluster'
import {
  connectRedis,
  createTestSchema,
  runId,
  seed,
  type TestSchema,
} from '@authframework/test-support/services'
import type pg from 'pg'
import { afterAll, afterEach, beforeAll } from 'vitest'
import {
  createAuth,
  createChangeLog,
  createPermissionStore,
  memoryLayer,
  migrate,
  postgresSource,
  redisLayer,
} from '../../src/index.js'
import { createRevocationList, type RevocationMode } from '../../src/revocation/index.js'
import {
  createSessionStore,
  postgresSessionSource,
  sessionMemoryLayer,
  sessionRedisLayer,
} from '../../src/sessions/index.js'
import { AUD, ISS, signer } from '../revocation/setup.js'

/** The promise: a change committed in PostgreSQL is enforced within this long, whatever Redis does. */
export const BOUND_MS = 1000

/**
 * Registers the file's hooks: a cluster of its own (node timeout 1000 ms) and a schema where each
 * of `users` holds `orders:write`. Call once at the top of the file.
 *
 * @example
 * const own = useOwnCluster(['u-1', 'u-2'])
 * const a = await own.instance('local')
 */
export function useOwnCluster(users: readonly string[]) {
  const prefix = `aftest:${runId()}:`
  const cleanup: Array<() => unknown> = []
  let cluster: LocalCluster | undefined
  let schema: TestSchema | undefined
  let pool: pg.Pool | undefined

  beforeAll(async () => {
    ;[cluster, schema] = await Promise.all([
      startRedisCluster({ nodeTimeoutMs: 1000 }),
      createTestSchema(),
    ])
    pool = schema.pool({ max: 10 })
    await migrate(pool)
    await seed(pool, {
      roles: { writer: ['orders:write'] },
      users: users.map((id) => ({ id, roles: ['writer'] })),
    })
  }, 60_000)

  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn()
  })

  afterAll(async () => {
    await cluster?.stop()
    await schema?.drop()
  })

  const fixture = {
    prefix,
    /** Run (last first) after each test. */
    cleanup,
    get cluster(): LocalCluster {
      return cluster!
    },
    get pool(): pg.Pool {
      return pool!
    },
    instance: (mode: RevocationMode, listenerOnly = false) =>
      startInstance(fixture, cleanup, mode, listenerOnly),
  }
  return fixture
}

/** One instance on the cluster: permission store, session store and revocation list on one client. */
async function startInstance(
  { prefix, cluster, pool }: { prefix: string; cluster: LocalCluster; pool: pg.Pool },
  cleanup: Array<() => unknown>,
  mode: RevocationMode,
  listenerOnly: boolean,
) {
  const client = await connectRedis(cluster.url)
  const errors: string[] = []
  const changes = listenerOnly ? undefined : createChangeLog({ pool, pollIntervalMs: 100 })
  const permissions = redisLayer({ client, keyPrefix: prefix, timeoutMs: 150 })
  const store = createPermissionStore({
    layers: [memoryLayer({ ttlSeconds: 300 }), permissions],
    source: postgresSource({ pool }),
    changes,
    onError: () => {},
  })
  const sessionsLayer = sessionRedisLayer({ client, keyPrefix: prefix, timeoutMs: 150 })
  const sessions = createSessionStore({
    layers: [sessionMemoryLayer(), sessionsLayer],
    source: postgresSessionSource({ pool }),
    changes,
    onError: () => {},
  })
  // the listener hears of revocations only through the channel: no change log, no periodic sync
  const list = createRevocationList({
    redis: client,
    pool,
    keyPrefix: prefix,
    mode,
    changes,
    ...(listenerOnly ? { syncIntervalMs: false, outageSyncIntervalMs: false } : {}),
    onError: (error, { operation }) => {
      errors.push(`${operation}: ${(error as Error).message}`)
    },
  })
  const auth = createAuth({
    publicKey: signer.publicKey!,
    issuer: ISS,
    audience: AUD,
    revocation: list,
  })
  cleanup.push(async () => {
    await auth.close()
    await list.close()
    await sessions.close()
    await store.close()
    await changes?.close()
    client.disconnect()
  })
  await Promise.all([store.ready(), sessions.ready(), changes?.ready(), list.ready()])
  const grants = async (id: string) =>
    (await store.lookup(id))?.permissions?.includes('orders:write') === true
  return { store, permissions, sessions, sessionsLayer, list, auth, grants, errors }
}

export type Instance = Awaited<ReturnType<typeof startInstance>>

/** Polls until `check` is true; resolves the ms from `since` to when the passing check began. */
export async function until(
  check: () => Promise<boolean> | boolean,
  since: number,
  timeoutMs = 30_000,
) {
  for (;;) {
    const began = performance.now()
    if (await check()) return began - since
    if (performance.now() - since > timeoutMs) throw new Error(`not true within ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}
