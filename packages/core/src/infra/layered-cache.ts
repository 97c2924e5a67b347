/**
 * The read-through cache the permission store, the session store and the strict revocation check
 * share: layers fastest first (memory, then Redis), then the system of record.
 *
 * - Single flight: concurrent reads of one key share one load.
 * - Batching: the cold reads of one tick share one read per layer and one source call.
 * - Write-back: an answer is written to the layers above the one that had it.
 * - Invalidation: `drop` makes a running load stale. It still answers the callers that started
 *   before, but writes nothing back, and takes back what it already wrote to a shared layer.
 * - Versions: given a change log, shared layers stamp their writes with its version and answer a
 *   copy older than the latest change of its key as a miss (the source is read and the copy
 *   written again); a change heard from the log drops the key here.
 * - Catch-up: after trouble with a shared layer, its copies are misses until the change log has
 *   been read again (see `createCatchUpGate`), so what this instance refused it never grants again.
 *
 * The loads themselves (single flight, batching, write-back) are `cache-load.ts`; this module holds
 * the cache's state, its synchronous reads, invalidation and versions. A layer that fails is
 * reported and treated as a miss: the next layer or the source answers, so a
 * failing cache never fails a read by itself. The source failing rejects the read (fail closed).
 */
import type { AuthMetrics } from '../metrics/metrics.js'
import { isPromise, type MaybePromise } from '../util.js'
import { invalid } from '../validate.js'
import { createBatchLoader, type Flight, type LoadContext } from './cache-load.js'
import type { ChangeLog, ChangeTopic } from './change-log.js'

/** One layer's answer for a key: a value, `null` (cached as absent), or `undefined` (a miss). */
export type Cached<V> = V | null | undefined

/** Told by a shared layer when another instance invalidated a key, or when messages may have been lost. */
export interface InvalidationListener {
  /** Drop `id` from process-local layers. */
  invalidated(id: string): void
  /** The invalidation channel was (re)established: invalidations may have been missed, drop everything local. */
  reset(): void
}

/**
 * A cache layer. Methods may reject on infrastructure failure; the cache then treats the layer as a
 * miss and asks the next one.
 */
export interface Layer<V> {
  /** Short name used in error reports and metrics (`memory`, `redis`). */
  readonly name: string
  /** True when every instance sees the same data (Redis); false for a process-local layer. */
  readonly shared: boolean
  /** For layers that answer without I/O: a hit is then served without batching or awaiting. */
  getSync?(id: string): Cached<V>
  /** Answers in the order of `ids`; a shared layer reads them in one round trip. */
  getMany(ids: readonly string[]): MaybePromise<readonly Cached<V>[]>
  /**
   * Writes values read from the layers below, each with the layer's TTL for its kind. A shared layer
   * never lets such a write replace a newer record of the key (e.g. a tombstone). A layer without
   * it is read-only here: someone else writes it.
   */
  setMany?(entries: ReadonlyArray<readonly [id: string, value: V | null]>): MaybePromise<void>
  /** Drops the cached copy of `id`. A read-only layer has none. */
  delete?(id: string): MaybePromise<void>
  /** Drops every entry of a process-local layer. */
  clear?(): void
  /** Shared layers: invalidations from other instances; returns the unsubscribe function. */
  subscribe?(listener: InvalidationListener): () => void
  /**
   * Shared layers: stamp writes with the change log's version, and answer a copy older than the
   * latest change of its key as a miss.
   */
  followChanges?(changes: ChangeLog): void
  /** Resolves once the layer is fully operational (e.g. its invalidation channel is subscribed). */
  ready?(): Promise<void>
  /** Releases what the layer owns (never a client it was given). */
  close?(): Promise<void>
}

/** The system of record behind the layers. */
export interface CacheSource<V> {
  /** The value of `id`, or `null` when there is none; rejects when the record cannot be read. */
  lookup(id: string): Promise<V | null>
  /** Answers for every id in one call (one query for a batch); an id left out is `null`. */
  lookupMany?(ids: readonly string[]): Promise<ReadonlyMap<string, V | null>>
}

/** What a layer was doing when it failed. */
export type LayerOperation = 'read' | 'write' | 'delete' | 'invalidate'

export interface LayeredCacheOptions<V> {
  /** Fastest first. Checked by the caller (each store names its own layer kind). */
  readonly layers: readonly Layer<V>[]
  readonly source: CacheSource<V>
  /** Most keys read from a layer or the source in one call. */
  readonly maxBatchSize: number
  /**
   * Whether a cached value may be served now; when not, the layers below (and the source) answer
   * and the fresher value is written back. Default: every cached value may.
   */
  readonly servable?: (value: V | null) => boolean
  /** A layer failed (the read goes on without it). Must not throw. */
  readonly report: (error: unknown, layer: string, operation: LayerOperation) => void
  /** Hits and misses per layer, the latency of shared layers (`redis`) and, named, of the source. */
  readonly metrics?: AuthMetrics | undefined
  readonly sourceTiming?: 'postgres' | undefined
  /** The change log and the topic of these keys: PostgreSQL is then the record. */
  readonly changes?: { readonly log: ChangeLog; readonly topic: ChangeTopic } | undefined
}

export interface LayeredCache<V> {
  /** A servable value from the synchronous layers (written to the ones above it), or `undefined`. */
  peek(id: string): V | null | undefined
  /** The value of `id` from the first layer that has a servable copy, or from the source. */
  get(id: string): Promise<V | null>
  /** `get` without the synchronous layers: after a `peek` that found nothing servable. */
  fetch(id: string): Promise<V | null>
  /** Drops `id` from the process-local layers; a load of it that is running becomes stale. */
  drop(id: string): void
  /** Drops everything process-local. */
  dropAll(): void
  /** Runs a layer call: a failure is reported and swallowed; `close` waits for it. */
  attempt(layer: Layer<V>, operation: LayerOperation, call: () => unknown): Promise<void>
  /** Runs `call` on every shared layer, each failure reported; resolves the first failure, if any. */
  eachShared(
    operation: LayerOperation,
    call: (layer: Layer<V>) => MaybePromise<unknown>,
  ): Promise<unknown>
  /** Resolves when every layer is operational. */
  ready(): Promise<void>
  /** Stops listening, waits for pending writes, then closes the layers. */
  close(): Promise<void>
}

/**
 * The `layers` option of a store, checked: `undefined`, or an array whose every layer has each of
 * `methods` (the kit's `TypeError` names the first layer and method missing).
 *
 * @example
 * const layers = layersOption<SessionLayer>(options.layers, ['getMany', 'set', 'delete'], {
 *   where: 'createSessionStore', kind: 'a session layer', example: 'sessionMemoryLayer()',
 * })
 */
export function layersOption<L>(
  value: unknown,
  methods: readonly string[],
  check: { readonly where: string; readonly kind: string; readonly example: string },
): readonly L[] | undefined {
  if (value === undefined) return undefined
  if (!Array.isArray(value)) invalid(check.where, 'layers', 'an array', `[${check.example}]`)
  value.forEach((layer: Record<string, unknown> | null | undefined, i) => {
    for (const method of methods) {
      if (typeof layer?.[method] !== 'function') {
        invalid(check.where, `layers[${i}]`, `${check.kind} (it has no ${method}())`, check.example)
      }
    }
  })
  return value as L[]
}

/** A servable value from the synchronous leading layers, written to the ones above it. */
function peekSync<V>(ctx: LoadContext<V>, id: string): V | null | undefined {
  const { layers, servable, metrics } = ctx
  for (let depth = 0; depth < ctx.syncPrefix; depth++) {
    const layer = layers[depth]!
    const value = layer.getSync!(id)
    const hit = value !== undefined && (servable === undefined || servable(value))
    metrics?.layer(layer.name, hit)
    if (hit) {
      // the layers above are synchronous too
      for (let i = 0; i < depth; i++)
        void ctx.attempt(layers[i]!, 'write', () => layers[i]!.setMany?.([[id, value]]))
      return value
    }
  }
  return undefined
}

/**
 * While a shared layer is in trouble (a call fails, its invalidation channel is lost or
 * re-established), this instance reads the source instead, and may see a change there before its
 * change log has: the copy the shared layer still holds (written before the change, stamped with a
 * version this instance does not yet know to be old) would then grant again what was just refused.
 * So after any trouble, copies from shared layers are misses until a read of the log begun after
 * the last trouble has completed. Without a change log the gate is always open.
 */
function createCatchUpGate(log: ChangeLog | undefined) {
  let troubles = 0
  let caughtUp = 0
  let reading = false
  return {
    trouble(): void {
      troubles++
    },
    /** Whether copies from shared layers may be served; when not, starts the catch-up read. */
    open(): boolean {
      if (log === undefined || caughtUp === troubles) return true
      if (!reading) {
        reading = true
        const at = troubles
        log
          .poll()
          .then(
            () => {
              caughtUp = Math.max(caughtUp, at)
            },
            () => {}, // still closed: the next read tries again
          )
          .finally(() => {
            reading = false
          })
      }
      return false
    },
  }
}

/** Runs `call` on every shared layer, each failure reported; resolves the first failure, if any. */
async function eachSharedLayer<V>(
  ctx: LoadContext<V>,
  operation: LayerOperation,
  call: (layer: Layer<V>) => MaybePromise<unknown>,
): Promise<unknown> {
  let failure: unknown
  await Promise.all(
    ctx.layers
      .filter((layer) => layer.shared)
      .map(async (layer) => {
        try {
          await call(layer)
        } catch (error) {
          ctx.report(error, layer.name, operation)
          failure ??= error
        }
      }),
  )
  return failure
}

/**
 * Creates a layered cache: see the module comment.
 *
 * @example
 * const cache = createLayeredCache({ layers: [memory, redis], source, maxBatchSize: 500, report })
 * const value = await cache.get('user-1')
 */
export function createLayeredCache<V>(options: LayeredCacheOptions<V>): LayeredCache<V> {
  const { layers } = options
  const gate = createCatchUpGate(options.changes?.log)
  const sharedNames = new Set(layers.filter((layer) => layer.shared).map((layer) => layer.name))
  const report: LayeredCacheOptions<V>['report'] = (error, layer, operation) => {
    if (sharedNames.has(layer)) gate.trouble()
    options.report(error, layer, operation)
  }
  // Leading layers that answer synchronously are read on the caller's path, before batching.
  let syncPrefix = 0
  while (syncPrefix < layers.length && typeof layers[syncPrefix]!.getSync === 'function') {
    syncPrefix++
  }
  const flights = new Map<string, Flight<V>>()
  const background = new Set<Promise<unknown>>()

  function track(promise: Promise<unknown>): void {
    background.add(promise)
    void promise.finally(() => background.delete(promise))
  }

  function attempt(layer: Layer<V>, operation: LayerOperation, call: () => unknown) {
    try {
      const result = call()
      if (!isPromise(result)) return Promise.resolve()
      const settled = result.then(
        () => {},
        (error: unknown) => report(error, layer.name, operation),
      )
      track(settled)
      return settled
    } catch (error) {
      report(error, layer.name, operation)
      return Promise.resolve()
    }
  }

  const ctx: LoadContext<V> = {
    layers,
    source: options.source,
    servable: options.servable,
    report,
    metrics: options.metrics,
    sourceTiming: options.sourceTiming,
    syncPrefix,
    trusted: gate.open,
    flights,
    attempt,
    track,
  }
  const load = createBatchLoader(ctx, options.maxBatchSize)

  function drop(id: string): void {
    const flight = flights.get(id)
    if (flight !== undefined) {
      flight.stale = true
      flights.delete(id)
    }
    for (const layer of layers)
      if (!layer.shared) void attempt(layer, 'delete', () => layer.delete?.(id))
  }

  function dropAll(): void {
    for (const flight of flights.values()) flight.stale = true
    flights.clear()
    for (const layer of layers) if (!layer.shared) layer.clear?.()
  }

  const listener: InvalidationListener = {
    invalidated: drop,
    reset() {
      gate.trouble()
      dropAll()
    },
  }
  const unsubscribers = layers.flatMap((layer) =>
    layer.shared && layer.subscribe ? [layer.subscribe(listener)] : [],
  )
  if (options.changes !== undefined) {
    const { log, topic } = options.changes
    for (const layer of layers) if (layer.shared) layer.followChanges?.(log)
    unsubscribers.push(log.subscribe(topic, drop))
  }

  return {
    peek: (id) => peekSync(ctx, id),
    get(id) {
      const value = peekSync(ctx, id)
      if (value !== undefined) return Promise.resolve(value)
      return flights.get(id)?.promise ?? load(id)
    },
    fetch: (id) => flights.get(id)?.promise ?? load(id),
    drop,
    dropAll,
    attempt,
    eachShared: (operation, call) => eachSharedLayer(ctx, operation, call),
    async ready() {
      await Promise.all(layers.map((layer) => layer.ready?.()))
    },
    async close() {
      for (const unsubscribe of unsubscribers.splice(0)) unsubscribe()
      await Promise.allSettled([...background])
      await Promise.allSettled(layers.map((layer) => layer.close?.()))
    },
  }
}
