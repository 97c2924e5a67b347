/** What every app module shares: the route body, the request counter and ours' options. */
import { DEFAULT_CACHE, loadAdapter, loadCore } from '../../ours.js'
import { openStore } from '../../services.js'
import { AUDIENCE, ISSUER } from '../../tokens.js'
import type { AppConfig, Framework, VariantId } from '../variants.js'

/** The small JSON every variant returns from `GET /`. */
export const BODY = Object.freeze({ hello: 'world' })

/** What the no-op control attaches to each request: one middleware layer, no work behind it. */
export const NOOP_AUTH = Object.freeze({ sub: 'noop', claims: {}, permissions: [] })

/** Requests served by the route handler since the last reset. */
export const counter = { requests: 0 }

/** Things to close when the process exits (the store and its connections). */
export const closers: (() => Promise<unknown>)[] = []

export interface Listening {
  readonly port: number
  close(): Promise<void>
}

/** Builds the app for a config and listens on 127.0.0.1, ephemeral port. */
export type BuildApp = (cfg: AppConfig) => Promise<Listening>

/** The app module of one framework, loaded alone (with its peer). */
export async function loadBuilder(framework: Framework): Promise<BuildApp> {
  if (framework === 'express') return (await import('./express.js')).build
  if (framework === 'koa') return (await import('./koa.js')).build
  if (framework === 'hono') return (await import('./hono.js')).build
  if (framework === 'nestjs') return (await import('./nestjs.js')).build
  return (await import('./fastify.js')).build
}

export const isOurs = (v: VariantId) => v === 'ours' || guarded(v)
/** Scenario (e): the route is guarded by `requirePermission('orders:read')`. */
export const guarded = (v: VariantId) => v === 'ours-perm' || v === 'ours-store'
export const REQUIRED_PERMISSION = 'orders:read'

/**
 * Ours' adapter factory (`authMiddleware`, `authPlugin`, `AuthModule`) and `requirePermission`
 * (`RequirePermission`), and its options:
 * RS256 with issuer and audience, the default cache, and for `ours-store` the core's store
 * (memory → Redis → PostgreSQL) as `permissions: { store, merge: 'store' }`.
 */
export async function ours<T, G>(framework: Framework, cfg: AppConfig) {
  const adapter = await loadAdapter(framework)
  const name = { fastify: 'authPlugin', nestjs: 'AuthModule' }[framework as string]
  const factory = adapter[name ?? 'authMiddleware'] as T
  const requirePermission = adapter[
    framework === 'nestjs' ? 'RequirePermission' : 'requirePermission'
  ] as (...required: string[]) => G
  // NestJS: the guard that runs the module's authentication
  const guard = adapter.AuthGuard as new (...args: never[]) => object
  const options: Record<string, unknown> = {
    algorithms: ['RS256'],
    publicKey: cfg.publicKeyPem,
    issuer: ISSUER,
    audience: AUDIENCE,
    cache: DEFAULT_CACHE,
  }
  if (cfg.variant === 'ours-store') {
    if (!cfg.store) throw new Error('no scratch schema for the permission store')
    const { store, close } = await openStore(await loadCore(), cfg.store, 'memory')
    closers.push(close)
    options.permissions = { store, merge: 'store' }
  }
  return { factory, requirePermission, guard, options }
}
