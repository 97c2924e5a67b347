/** What every app module shares: the route body, the request counter and ours' options. */
import { DEFAULT_CACHE, type Framework, loadAdapter } from '../../ours.js'
import { AUDIENCE, ISSUER } from '../../tokens.js'
import type { ServerConfig, VariantId } from '../variants.js'

/** The small JSON every variant returns from `GET /`. */
export const BODY = Object.freeze({ hello: 'world' })

/**
 * What the no-op control middleware attaches to each request: the cost of one middleware layer
 * that sets the same property ours sets, with no work behind it.
 */
export const NOOP_AUTH = Object.freeze({
  sub: 'noop',
  claims: Object.freeze({}),
  permissions: Object.freeze([]),
})

/** Requests served by the route handler since the last reset. */
export const counter = { requests: 0 }

export interface Listening {
  readonly port: number
  close(): Promise<void>
}

/** Builds the app for a config and starts listening on 127.0.0.1, ephemeral port. */
export type BuildApp = (cfg: ServerConfig) => Promise<Listening>

export const isOurs = (v: VariantId) => v === 'ours' || v === 'ours-nocache' || guarded(v)

/** Scenario (e): the route is guarded by `requirePermission('orders:read')`. */
export const guarded = (v: VariantId) =>
  v === 'ours-perm' || v === 'ours-store' || v === 'ours-store-redis'

export const REQUIRED_PERMISSION = 'orders:read'

/** Things to close when the server exits (store, Redis client, pool). */
export const closers: (() => Promise<unknown> | unknown)[] = []

/**
 * Scenario (e): the core's permission store over the parent's scratch schema and key prefix —
 * memory → Redis → PostgreSQL, or Redis → PostgreSQL — as `permissions: { store, merge: 'store' }`.
 */
export async function storeOptions(cfg: ServerConfig): Promise<Record<string, unknown>> {
  if (cfg.variant !== 'ours-store' && cfg.variant !== 'ours-store-redis') return {}
  if (!cfg.store) throw new Error('no store configuration')
  const core = (await import('@authframework/core')) as unknown as {
    createPermissionStore(o: unknown): { close(): Promise<void> }
    memoryLayer(o: unknown): unknown
    redisLayer(o: unknown): unknown
    postgresSource(o: unknown): unknown
  }
  const { Redis } = await import('ioredis')
  const { default: pg } = await import('pg')
  const redis = new Redis(cfg.store.redisUrl, {
    enableOfflineQueue: false,
    commandTimeout: 1000,
    maxRetriesPerRequest: 1,
    lazyConnect: true,
  })
  redis.on('error', () => {})
  await redis.connect()
  const pool = new pg.Pool({
    connectionString: cfg.store.databaseUrl,
    max: 10,
    options: `-c search_path=${cfg.store.schema}`,
  })
  pool.on('error', () => {})
  const redisLayer = core.redisLayer({
    client: redis,
    keyPrefix: cfg.store.keyPrefix,
    ttlSeconds: 1800,
  })
  const layers =
    cfg.variant === 'ours-store'
      ? [core.memoryLayer({ max: 50_000, ttlSeconds: 300 }), redisLayer]
      : [redisLayer]
  const store = core.createPermissionStore({ layers, source: core.postgresSource({ pool }) })
  closers.push(
    () => store.close(),
    () => pool.end(),
    () => redis.disconnect(),
  )
  return { permissions: { store, merge: 'store' } }
}

/** Options for ours' adapters: RS256 with issuer and audience, cache on or off. */
export function oursAdapterOptions(cfg: ServerConfig) {
  return {
    algorithms: ['RS256'],
    publicKey: cfg.publicKeyPem,
    issuer: ISSUER,
    audience: AUDIENCE,
    cache: cfg.variant === 'ours-nocache' ? false : DEFAULT_CACHE,
  }
}

/** The adapter's exported factory, or a thrown reason when it is not there yet. */
export async function oursAdapter<T>(framework: Framework): Promise<T> {
  const loaded = await loadAdapter(framework)
  if (!loaded.ok) throw new Error(loaded.reason)
  return loaded.value as T
}
