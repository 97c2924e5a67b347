/**
 * The read-through chain: cache layers in order (memory, then Redis), then the source. Concurrent
 * lookups of one user share one load (single flight); cold lookups of one tick share one read per
 * layer and one source call (batching); answers are written back to the layers above where they
 * were found; invalidation reaches every instance.
 */
import { AuthUnavailableError } from '../../errors.js'
import type { ChangeLog } from '../../infra/change-log.js'
import type { AuthMetrics } from '../../metrics/metrics.js'
import type { PermissionRecord, PermissionSource } from '../../types.js'
import { createWarnOnce } from '../../warn-once.js'
import type { CachedValue, CacheLayer, InvalidationListener } from './layer.js'
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

interface Flight {
  readonly id: string
  /**
   * Set when the user is invalidated while this load runs. Each load is a new flight, so the flight
   * is the key's generation: a stale flight still answers the callers that started before the
   * invalidation but writes nothing back (and deletes what it already wrote to a shared layer).
   */
  stale: boolean
  readonly promise: Promise<PermissionRecord | null>
  resolve(value: PermissionRecord | null): void
  reject(error: unknown): void
}

type Found = readonly [flight: Flight, value: PermissionRecord | null]

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null)?.then === 'function'
}

function checkLayer(layer: unknown, index: number): CacheLayer {
  const l = layer as Partial<CacheLayer> | null
  for (const method of ['get', 'getMany', 'set', 'setMany', 'delete'] as const) {
    if (typeof l?.[method] !== 'function') {
      throw new TypeError(
        `createPermissionStore: layers[${index}] is not a cache layer (no ${method}()); use memoryLayer() or redisLayer().`,
      )
    }
  }
  return l as CacheLayer
}

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
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(
      'createPermissionStore(options): options must be an object with a `source`.',
    )
  }
  const rawSource = options.source
  if (
    typeof rawSource !== 'function' &&
    typeof (rawSource as Partial<PermissionSource> | null)?.lookup !== 'function'
  ) {
    throw new TypeError(
      'createPermissionStore: source must be a function (userId) => Promise<{ permissions } | null> or an object with lookup(), e.g. postgresSource({ pool }).',
    )
  }
  if (options.layers !== undefined && !Array.isArray(options.layers)) {
    throw new TypeError('createPermissionStore: layers must be an array, e.g. [memoryLayer()].')
  }
  const layers: readonly CacheLayer[] = (options.layers ?? [memoryLayer()]).map(checkLayer)
  const maxBatchSize = options.maxBatchSize ?? PERMISSION_STORE_DEFAULTS.maxBatchSize
  const metrics = options.metrics
  const sourceTiming =
    (rawSource as { name?: unknown }).name === 'postgres' ? ('postgres' as const) : undefined
  if (!Number.isInteger(maxBatchSize) || maxBatchSize < 1) {
    throw new TypeError('createPermissionStore: maxBatchSize must be a positive integer, e.g. 500.')
  }
  if (options.onError !== undefined && typeof options.onError !== 'function') {
    throw new TypeError('createPermissionStore: onError must be a function.')
  }
  const source = toPermissionSource(rawSource)
  // Leading layers that answer synchronously are read on the caller's path, before batching.
  let syncPrefix = 0
  while (syncPrefix < layers.length && typeof layers[syncPrefix]!.getSync === 'function') {
    syncPrefix++
  }

  const warn = createWarnOnce('AUTHFRAMEWORK_LAYER_FAILURE')
  const report =
    options.onError ??
    ((error: unknown, { layer, operation }: LayerErrorContext) =>
      warn(
        `${layer}:${operation}`,
        error,
        (kind) =>
          `Permission store: the ${layer} layer failed on ${operation} (${kind}); lookups go on to the next layer.`,
      ))
  function safeReport(
    error: unknown,
    layer: CacheLayer,
    operation: LayerErrorContext['operation'],
  ) {
    try {
      report(error, { layer: layer.name, operation })
    } catch {
      // A failing reporter must not fail a lookup.
    }
  }

  const flights = new Map<string, Flight>()
  const background = new Set<Promise<unknown>>()
  let queue: Flight[] = []
  let closed = false

  function track(promise: Promise<unknown>): void {
    background.add(promise)
    void promise.finally(() => background.delete(promise))
  }

  function dropLocal(id: string): void {
    const flight = flights.get(id)
    if (flight !== undefined) {
      flight.stale = true
      flights.delete(id)
    }
    for (const layer of layers) {
      if (layer.shared) continue
      try {
        const result = layer.delete(id)
        if (isThenable(result))
          track(Promise.resolve(result).catch((e) => safeReport(e, layer, 'delete')))
      } catch (error) {
        safeReport(error, layer, 'delete')
      }
    }
  }

  function resetLocal(): void {
    for (const flight of flights.values()) flight.stale = true
    flights.clear()
    for (const layer of layers) if (!layer.shared) layer.clear?.()
  }

  const listener: InvalidationListener = { invalidated: dropLocal, reset: resetLocal }
  const unsubscribers = layers.flatMap((layer) =>
    layer.shared && layer.subscribe ? [layer.subscribe(listener)] : [],
  )
  const changes = options.changes
  if (changes !== undefined) {
    if (typeof changes.subscribe !== 'function' || typeof changes.isCurrent !== 'function') {
      throw new TypeError('createPermissionStore: changes must be a change log (createChangeLog).')
    }
    for (const layer of layers) if (layer.shared) layer.followChanges?.(changes)
    unsubscribers.push(changes.subscribe('permissions', dropLocal))
  }

  /** Writes `found` to the layers above `depth`, then answers the callers. */
  function settle(found: readonly Found[], depth: number): void {
    const writes: Promise<unknown>[] = []
    for (let i = 0; i < depth; i++) {
      const layer = layers[i]!
      const fresh = found.filter(([flight]) => !flight.stale)
      if (fresh.length === 0) break
      try {
        const result = layer.setMany(fresh.map(([flight, value]) => [flight.id, value] as const))
        if (isThenable(result)) {
          const write = Promise.resolve(result).then(
            () => {
              // Invalidated while the write was on its way: take back what we wrote.
              for (const [flight] of fresh) {
                if (flight.stale) {
                  track(
                    Promise.resolve(layer.delete(flight.id)).catch((e) =>
                      safeReport(e, layer, 'delete'),
                    ),
                  )
                }
              }
            },
            (error) => safeReport(error, layer, 'write'),
          )
          writes.push(write)
          track(write)
        }
      } catch (error) {
        safeReport(error, layer, 'write')
      }
    }
    for (const [flight, value] of found) flight.resolve(value)
    const release = () => {
      for (const [flight] of found) if (flights.get(flight.id) === flight) flights.delete(flight.id)
    }
    if (writes.length === 0) release()
    else void Promise.allSettled(writes).then(release)
  }

  function fail(batch: readonly Flight[], error: unknown): void {
    for (const flight of batch) {
      if (flights.get(flight.id) === flight) flights.delete(flight.id)
      flight.reject(error)
    }
  }

  async function fromSource(batch: readonly Flight[]): Promise<void> {
    const start = performance.now()
    try {
      await readSource(batch)
    } finally {
      if (sourceTiming !== undefined) metrics?.timing(sourceTiming, performance.now() - start)
    }
  }

  async function readSource(batch: readonly Flight[]): Promise<void> {
    if (batch.length > 1 && source.lookupMany) {
      let answers: ReadonlyMap<string, PermissionRecord | null>
      try {
        answers = await source.lookupMany(batch.map((flight) => flight.id))
      } catch (error) {
        return fail(batch, error)
      }
      return settle(
        batch.map((flight) => [flight, answers.get(flight.id) ?? null] as const),
        layers.length,
      )
    }
    const outcomes = await Promise.allSettled(batch.map((flight) => source.lookup(flight.id)))
    const found: Found[] = []
    outcomes.forEach((outcome, i) => {
      const flight = batch[i]!
      if (outcome.status === 'fulfilled') found.push([flight, outcome.value])
      else fail([flight], outcome.reason)
    })
    settle(found, layers.length)
  }

  async function load(batch: readonly Flight[]): Promise<void> {
    let pending = batch
    for (let depth = syncPrefix; depth < layers.length && pending.length > 0; depth++) {
      const layer = layers[depth]!
      let values: readonly CachedValue[]
      const start = performance.now()
      try {
        values = await layer.getMany(pending.map((flight) => flight.id))
      } catch (error) {
        safeReport(error, layer, 'read')
        continue
      } finally {
        if (layer.shared) metrics?.timing('redis', performance.now() - start)
      }
      const found: Found[] = []
      const missing: Flight[] = []
      pending.forEach((flight, i) => {
        const value = values[i]
        metrics?.layer(layer.name, value !== undefined)
        if (value === undefined) missing.push(flight)
        else found.push([flight, value])
      })
      if (found.length > 0) settle(found, depth)
      pending = missing
    }
    if (pending.length > 0) await fromSource(pending)
  }

  function flush(): void {
    const batch = queue
    queue = []
    for (let start = 0; start < batch.length; start += maxBatchSize) {
      const chunk = batch.slice(start, start + maxBatchSize)
      load(chunk).catch((error: unknown) => fail(chunk, error))
    }
  }

  function enqueue(id: string): Promise<PermissionRecord | null> {
    let resolve!: (value: PermissionRecord | null) => void
    let reject!: (error: unknown) => void
    const promise = new Promise<PermissionRecord | null>((res, rej) => {
      resolve = res
      reject = rej
    })
    flights.set(id, { id, stale: false, promise, resolve, reject })
    queue.push(flights.get(id)!)
    // Like DataLoader: wait for the current promise jobs, then one more tick, so that lookups
    // started by the same event (e.g. Promise.all over many ids) land in one batch.
    if (queue.length === 1) void Promise.resolve().then(() => process.nextTick(flush))
    return promise
  }

  function lookup(subject: string): Promise<PermissionRecord | null> {
    if (closed) {
      return Promise.reject(new AuthUnavailableError('The permission store is closed.'))
    }
    if (typeof subject !== 'string') {
      return Promise.reject(new TypeError('store.lookup(subject): subject must be a string.'))
    }
    if (!isStorableId(subject)) return Promise.resolve(null)
    for (let depth = 0; depth < syncPrefix; depth++) {
      const value = layers[depth]!.getSync!(subject)
      metrics?.layer(layers[depth]!.name, value !== undefined)
      if (value !== undefined) {
        for (let i = 0; i < depth; i++) layers[i]!.set(subject, value)
        return Promise.resolve(value)
      }
    }
    return flights.get(subject)?.promise ?? enqueue(subject)
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
    dropLocal(subject)
    const failures: unknown[] = []
    await Promise.all(
      layers
        .filter((layer) => layer.shared)
        .map(async (layer) => {
          try {
            await (layer.invalidate ? layer.invalidate(subject) : layer.delete(subject))
          } catch (error) {
            safeReport(error, layer, 'invalidate')
            failures.push(error)
          }
        }),
    )
    // A lookup that ran between the first drop and the shared delete may have cached the old value.
    dropLocal(subject)
    // Recorded in PostgreSQL: every instance hears it from the log, and no Redis copy from before
    // it is served, so a Redis failure here changes nothing.
    if (failures.length > 0 && changes === undefined) {
      throw new AuthUnavailableError('The permission cache could not be invalidated.', {
        cause: failures[0],
      })
    }
  }

  return {
    lookup,
    invalidate,
    async ready() {
      await Promise.all(layers.map((layer) => layer.ready?.()))
    },
    async close() {
      if (closed) return
      closed = true
      for (const unsubscribe of unsubscribers) unsubscribe()
      await Promise.allSettled([...background])
      await Promise.allSettled(layers.map((layer) => layer.close?.()))
      await source.close?.()
    },
  }
}
