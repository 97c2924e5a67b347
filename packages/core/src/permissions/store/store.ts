/**
 * The read-through chain: cache layers in order (memory, then Redis), then the source. Concurrent
 * lookups of one user share one load (single flight); cold lookups of one tick share one read per
 * layer and one source call (batching); answers are written back to the layers above where they
 * were found; invalidation reaches every instance.
 */
import { AuthUnavailableError } from '../../errors.js'
import { type ChangeLog, changeLogOption } from '../../infra/change-log.js'
import { createLayeredCache, layersOption } from '../../infra/layered-cache.js'
import type { AuthMetrics } from '../../metrics/metrics.js'
import type { PermissionRecord, PermissionSource } from '../../types.js'
import { isPromise, type MaybePromise } from '../../util.js'
import { func, invalid, plainObject, positiveInteger } from '../../validate.js'
import { safeReporter } from '../../warn-once.js'
import type { CacheLayer } from './layer.js'
import { memoryLayer } from './memory-layer.js'
import { isStorableId } from './record.js'
import { type BatchPermissionSource, type PermissionLookup, toPermissionSource } from './source.js'

export interface PermissionStoreOptions {
  /**
   * Cache layers, fastest first, e.g. `[memoryLayer(...), redisLayer(...)]`. Default: one
   * {@link memoryLayer} with its defaults. `[]` disables caching (single flight and batching stay).
   * The store owns its layers: `close()` closes them.
   */
  readonly layers?: readonly CacheLayer[]
  /**
   * The system of record: {@link postgresSource}, any {@link PermissionSource}, or a function
   * `(userId) => Promise<{ permissions, roles? } | null>`. Resolve `null` for an unknown or
   * inactive user; reject when the backing service is unreachable.
   */
  readonly source: PermissionLookup | BatchPermissionSource
  /** Most users read from a layer or the source in one call. Default 500. */
  readonly maxBatchSize?: number
  /**
   * Called when a cache layer fails (the lookup then goes on to the next layer). Default: one
   * process warning per layer and operation, naming no user id.
   */
  readonly onError?: (error: unknown, context: LayerErrorContext) => void
  /**
   * Records hits and misses per layer and the latency of Redis reads and of the source (as
   * `postgres` for `postgresSource`): pass the `createMetrics()` given to `createAuth`.
   */
  readonly metrics?: AuthMetrics
  /**
   * The change log ({@link createChangeLog} on the same database): PostgreSQL is then the record.
   * A change to a user's roles, permissions or active flag, by any writer, reaches every instance
   * within about two `pollIntervalMs` whatever Redis does; a Redis copy older than the latest change
   * of its user is never served, and is written again from the source; `invalidate` is recorded in
   * PostgreSQL first. Without it, invalidations travel over Redis only.
   */
  readonly changes?: ChangeLog
}

/** Where a cache layer failed. */
export interface LayerErrorContext {
  readonly layer: string
  readonly operation: 'read' | 'write' | 'delete' | 'invalidate'
}

/** Default options of {@link createPermissionStore}. */
export const PERMISSION_STORE_DEFAULTS = Object.freeze({ maxBatchSize: 500 })

/** A {@link PermissionSource} with caching, invalidation and a lifecycle. */
export interface PermissionStore extends PermissionSource {
  /**
   * The user's permissions and roles, or `null` when the user is unknown or inactive. Rejects
   * with `AuthUnavailableError` when no cache layer has the user and the source fails: never an
   * allow.
   */
  lookup(subject: string): Promise<PermissionRecord | null>
  /**
   * `lookup`, answered as is (no promise) when the memory layer has the user: the authentication
   * pipeline calls this one, so a memory hit keeps a cached request synchronous.
   */
  lookupMaybeSync(subject: string): MaybePromise<PermissionRecord | null>
  /**
   * Drops the user from every layer of this instance and of every instance sharing the same
   * Redis. With a change log, the invalidation is first recorded in PostgreSQL (rejects with
   * `AuthUnavailableError` when it cannot be) and reaches every instance through it even while
   * Redis fails. Without one, rejects with `AuthUnavailableError` if a shared layer could not be
   * reached (this instance's local layers are cleared anyway).
   */
  invalidate(subject: string): Promise<void>
  /** Resolves when every layer is operational (e.g. the invalidation channel is subscribed). */
  ready(): Promise<void>
  /** Waits for pending cache writes, then closes the layers and the source. */
  close(): Promise<void>
}

const WHERE = 'createPermissionStore'

/**
 * Creates a permission store: a {@link PermissionSource} that reads through its cache layers to
 * its source, with single flight, per-tick batching, negative caching (per-layer
 * `negativeTtlSeconds`) and cross-instance invalidation.
 *
 * @example
 * const store = createPermissionStore({
 *   layers: [
 *     memoryLayer({ max: 50_000, ttlSeconds: 300 }),
 *     redisLayer({ client: redis, keyPrefix: 'af:', ttlSeconds: 1800 }),
 *   ],
 *   source: postgresSource({ pool }),
 * })
 * await store.lookup('user-42')     // { permissions, roles } | null
 * await store.invalidate('user-42') // after a role change: every instance drops it
 * await store.close()
 */
export function createPermissionStore(options: PermissionStoreOptions): PermissionStore {
  plainObject(options, 'options', '{ source: postgresSource({ pool }) }', WHERE)
  const rawSource = options.source
  if (
    typeof rawSource !== 'function' &&
    typeof (rawSource as Partial<PermissionSource> | null)?.lookup !== 'function'
  ) {
    invalid(
      WHERE,
      'source',
      'a function (userId) => Promise<{ permissions } | null> or an object with lookup()',
      'postgresSource({ pool })',
    )
  }
  const layers = layersOption<CacheLayer>(
    options.layers,
    ['get', 'getMany', 'set', 'setMany', 'delete'],
    {
      where: WHERE,
      kind: 'a cache layer',
      example: 'memoryLayer() or redisLayer()',
    },
  ) ?? [memoryLayer()]
  const { maxBatchSize: defaultBatch } = PERMISSION_STORE_DEFAULTS
  const maxBatchSize = positiveInteger(
    options.maxBatchSize ?? defaultBatch,
    'maxBatchSize',
    defaultBatch,
    WHERE,
  )
  const metrics = options.metrics
  const sourceTiming =
    (rawSource as { name?: unknown }).name === 'postgres' ? ('postgres' as const) : undefined
  if (options.onError !== undefined) {
    func(options.onError, 'onError', '(error, { layer, operation }) => log(error)', WHERE)
  }
  const changes = changeLogOption(options.changes, WHERE)
  const source = toPermissionSource(rawSource)

  const onError = safeReporter<LayerErrorContext>(options.onError, 'AUTHFRAMEWORK_LAYER_FAILURE', {
    key: ({ layer, operation }) => `${layer}:${operation}`,
    message: ({ layer, operation }, kind) =>
      `Permission store: the ${layer} layer failed on ${operation} (${kind}); lookups go on to the next layer.`,
  })
  const cache = createLayeredCache<PermissionRecord>({
    layers,
    source,
    maxBatchSize,
    metrics,
    sourceTiming,
    changes: changes && { log: changes, topic: 'permissions' },
    report: (error, layer, operation) => onError(error, { layer, operation }),
  })
  let closed = false

  /** `lookup` itself: the synchronous layers' answer as is, or the promise of the layers below. */
  function lookupMaybeSync(subject: string): MaybePromise<PermissionRecord | null> {
    if (closed) {
      return Promise.reject(new AuthUnavailableError('The permission store is closed.'))
    }
    if (typeof subject !== 'string') {
      return Promise.reject(new TypeError('store.lookup(subject): subject must be a string.'))
    }
    if (!isStorableId(subject)) return null
    const known = cache.peek(subject)
    return known !== undefined ? known : cache.fetch(subject)
  }

  function lookup(subject: string): Promise<PermissionRecord | null> {
    const answer = lookupMaybeSync(subject)
    return isPromise(answer) ? answer : Promise.resolve(answer)
  }

  async function invalidate(subject: string): Promise<void> {
    if (typeof subject !== 'string') {
      throw new TypeError('store.invalidate(subject): subject must be a string.')
    }
    if (!isStorableId(subject)) return
    if (changes !== undefined) {
      try {
        await changes.append('permissions', subject)
      } catch (cause) {
        throw new AuthUnavailableError('The invalidation could not be recorded in PostgreSQL.', {
          cause,
          dependency: 'permissions',
        })
      }
    }
    cache.drop(subject)
    const failure = await cache.eachShared('invalidate', (layer) => {
      const shared = layer as CacheLayer
      return shared.invalidate ? shared.invalidate(subject) : shared.delete(subject)
    })
    // A lookup that ran between the first drop and the shared delete may have cached the old value.
    cache.drop(subject)
    // Recorded in PostgreSQL: every instance hears it from the log, and no Redis copy from before
    // it is served, so a Redis failure here changes nothing.
    if (failure !== undefined && changes === undefined) {
      throw new AuthUnavailableError('The permission cache could not be invalidated.', {
        cause: failure,
      })
    }
  }

  return {
    lookup,
    lookupMaybeSync,
    invalidate,
    ready: () => cache.ready(),
    async close() {
      if (closed) return
      closed = true
      await cache.close()
      await source.close?.()
    },
  }
}
