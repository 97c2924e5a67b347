/**
 * The options of the session store: what each one means, its default, and the one check of them
 * all at construction. Validation only: the store (`store.ts`) builds its layers and cache.
 */
import { type ChangeLog, changeLogOption } from '../infra/change-log.js'
import { layersOption } from '../infra/layered-cache.js'
import type { Clock } from '../types.js'
import { invalid, plainObject, positiveNumber } from '../validate.js'
import type { SessionLayer } from './layer.js'
import type { SessionDatabase } from './postgres-source.js'

export interface SessionStoreOptions {
  /**
   * Cache layers, fastest first: `[sessionMemoryLayer(), sessionRedisLayer({ client })]`. Default:
   * one memory layer. `[]`: every read goes to the database. The store closes its layers.
   */
  readonly layers?: readonly SessionLayer[]
  /** The system of record: `postgresSessionSource({ pool })`. */
  readonly source: SessionDatabase
  /** Lifetime of a new session. Default 86 400 (24 h). */
  readonly ttlSeconds?: number
  /**
   * Longest a cached session is served before the database confirms it again (still active, its
   * user still active): the bound on how long a user deactivated in PostgreSQL, or a session
   * deactivated there directly, keeps working. While the database cannot answer, a session past
   * this bound is refused (503), never served on old news. `destroy` and `destroyAll` act at once.
   * Default 60.
   */
  readonly revalidateSeconds?: number
  /** `touch` writes `last_activity` at most this often per session (across instances). Default 60. */
  readonly touchIntervalSeconds?: number
  /** Sessions whose last write of `last_activity` is remembered, for throttling. Default 100 000. */
  readonly maxTouched?: number
  /** Called when a cache layer fails (the operation goes on without it). Default: one process warning per layer and operation. */
  readonly onError?: (
    error: unknown,
    context: { readonly layer: string; readonly operation: string },
  ) => void
  /** Milliseconds since the epoch. Default `Date.now`. */
  readonly clock?: Clock
  /**
   * The change log ({@link createChangeLog} on the same database): a session destroyed, or its
   * user deactivated, by any writer, is then refused by every instance within about two
   * `pollIntervalMs` whatever Redis does, and no Redis copy from before the change is served.
   */
  readonly changes?: ChangeLog
}

/** Default options of {@link createSessionStore}. */
export const SESSION_STORE_DEFAULTS = Object.freeze({
  ttlSeconds: 86_400,
  revalidateSeconds: 60,
  touchIntervalSeconds: 60,
  maxTouched: 100_000,
})

/** The options once checked, every default applied (times in milliseconds). */
export interface ResolvedSessionStoreOptions {
  readonly source: SessionDatabase
  /** `undefined`: the default, one memory layer. */
  readonly layers: readonly SessionLayer[] | undefined
  readonly ttlSeconds: number
  readonly revalidateMs: number
  readonly touchIntervalMs: number
  readonly maxTouched: number
  readonly onError: SessionStoreOptions['onError']
  readonly clock: Clock
  readonly changes: ChangeLog | undefined
}

const WHERE = 'createSessionStore'

/**
 * A session's lifetime in seconds, checked (the store's default, or one given to `create`).
 *
 * @example
 * sessionTtlSeconds(3600) // 3600
 */
export function sessionTtlSeconds(
  value: unknown,
  example: number = SESSION_STORE_DEFAULTS.ttlSeconds,
): number {
  return positiveNumber(value, 'ttlSeconds', example, WHERE)
}

/**
 * Checks the options of {@link createSessionStore} and applies the defaults.
 *
 * @example
 * resolveSessionStoreOptions({ source: postgresSessionSource({ pool }) }).revalidateMs // 60000
 */
export function resolveSessionStoreOptions(
  options: SessionStoreOptions,
): ResolvedSessionStoreOptions {
  plainObject(options, 'options', '{ source: postgresSessionSource({ pool }) }', WHERE)
  const source = options.source
  for (const method of ['insert', 'get', 'touch', 'deactivate', 'deactivateUser'] as const) {
    if (typeof source?.[method] !== 'function') {
      invalid(WHERE, `source.${method}`, 'a function', 'postgresSessionSource({ pool })')
    }
  }
  const layers = layersOption<SessionLayer>(options.layers, ['getMany', 'set', 'delete'], {
    where: WHERE,
    kind: 'a session layer',
    example: 'sessionMemoryLayer() or sessionRedisLayer()',
  })
  const d = SESSION_STORE_DEFAULTS
  const number = (value: number | undefined, name: string, fallback: number) =>
    positiveNumber(value ?? fallback, name, fallback, WHERE)
  const changes = changeLogOption(options.changes, WHERE)
  return Object.freeze({
    source,
    layers,
    ttlSeconds: sessionTtlSeconds(options.ttlSeconds ?? d.ttlSeconds),
    revalidateMs:
      number(options.revalidateSeconds, 'revalidateSeconds', d.revalidateSeconds) * 1000,
    touchIntervalMs:
      number(options.touchIntervalSeconds, 'touchIntervalSeconds', d.touchIntervalSeconds) * 1000,
    maxTouched: number(options.maxTouched, 'maxTouched', d.maxTouched),
    onError: options.onError,
    clock: options.clock ?? Date.now,
    changes,
  })
}
