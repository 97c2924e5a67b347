/**
 * The loads of the layered cache (`layered-cache.ts`): single flight (one load per key at a time,
 * shared by its callers), batching (the cold reads of one tick share one read per layer and one
 * source call), and write-back (an answer is written to the layers above the one that had it). A
 * load whose key is dropped meanwhile is stale: it still answers its callers, but writes nothing
 * back and takes back what it already wrote.
 */
import type { AuthMetrics } from '../metrics/metrics.js'
import { isPromise } from '../util.js'
import type { Cached, CacheSource, Layer, LayerOperation } from './layered-cache.js'

/** One running load of one key. */
export interface Flight<V> {
  readonly id: string
  /** The key was dropped while this load ran: it answers, but writes nothing back. */
  stale: boolean
  readonly promise: Promise<V | null>
  resolve(value: V | null): void
  reject(error: unknown): void
}

type Found<V> = readonly [flight: Flight<V>, value: V | null]

/** What the loads of one cache share with it. */
export interface LoadContext<V> {
  readonly layers: readonly Layer<V>[]
  readonly source: CacheSource<V>
  readonly servable: ((value: V | null) => boolean) | undefined
  readonly report: (error: unknown, layer: string, operation: LayerOperation) => void
  readonly metrics: AuthMetrics | undefined
  readonly sourceTiming: 'postgres' | undefined
  /** How many leading layers answer synchronously (read before a load starts). */
  readonly syncPrefix: number
  /** Whether copies read from shared layers may be served now (see the catch-up gate). */
  readonly trusted: () => boolean
  /** The running loads, by key; the cache marks them stale when it drops a key. */
  readonly flights: Map<string, Flight<V>>
  /** Runs a layer call, reporting a failure; the cache's `close` waits for it. */
  readonly attempt: (
    layer: Layer<V>,
    operation: LayerOperation,
    call: () => unknown,
  ) => Promise<void>
  /** Keeps a background write, for the cache's `close` to wait for. */
  readonly track: (promise: Promise<unknown>) => void
}

/** Writes `found` to the writable layers above `depth`, then answers the callers. */
function settle<V>(ctx: LoadContext<V>, found: readonly Found<V>[], depth: number): void {
  const { layers, flights, attempt, report } = ctx
  const writes: Promise<unknown>[] = []
  for (let i = 0; i < depth; i++) {
    const layer = layers[i]!
    if (layer.setMany === undefined) continue
    const fresh = found.filter(([flight]) => !flight.stale)
    if (fresh.length === 0) break
    try {
      const result = layer.setMany(fresh.map(([flight, value]) => [flight.id, value] as const))
      if (isPromise(result)) {
        const write = result.then(
          () => {
            // Dropped while the write was on its way: take back what was written.
            for (const [flight] of fresh) {
              if (flight.stale) void attempt(layer, 'delete', () => layer.delete?.(flight.id))
            }
          },
          (error: unknown) => report(error, layer.name, 'write'),
        )
        ctx.track(write)
        writes.push(write)
      }
    } catch (error) {
      report(error, layer.name, 'write')
    }
  }
  for (const [flight, value] of found) flight.resolve(value)
  // The flight answers later callers until its writes have landed.
  const release = () => {
    for (const [flight] of found) if (flights.get(flight.id) === flight) flights.delete(flight.id)
  }
  if (writes.length === 0) release()
  else void Promise.all(writes).then(release)
}

function fail<V>(ctx: LoadContext<V>, batch: readonly Flight<V>[], error: unknown): void {
  for (const flight of batch) {
    if (ctx.flights.get(flight.id) === flight) ctx.flights.delete(flight.id)
    flight.reject(error)
  }
}

async function fromSource<V>(ctx: LoadContext<V>, batch: readonly Flight<V>[]): Promise<void> {
  const { source, layers, metrics, sourceTiming } = ctx
  const start = performance.now()
  try {
    if (batch.length > 1 && source.lookupMany) {
      let answers: ReadonlyMap<string, V | null>
      try {
        answers = await source.lookupMany(batch.map((flight) => flight.id))
      } catch (error) {
        return fail(ctx, batch, error)
      }
      return settle(
        ctx,
        batch.map((flight) => [flight, answers.get(flight.id) ?? null] as const),
        layers.length,
      )
    }
    const outcomes = await Promise.allSettled(batch.map((flight) => source.lookup(flight.id)))
    const found: Found<V>[] = []
    outcomes.forEach((outcome, i) => {
      const flight = batch[i]!
      if (outcome.status === 'fulfilled') found.push([flight, outcome.value])
      else fail(ctx, [flight], outcome.reason)
    })
    settle(ctx, found, layers.length)
  } finally {
    if (sourceTiming !== undefined) metrics?.timing(sourceTiming, performance.now() - start)
  }
}

/** Loads a batch through the asynchronous layers, then the source for what none of them had. */
async function loadBatch<V>(ctx: LoadContext<V>, batch: readonly Flight<V>[]): Promise<void> {
  const { layers, servable, report, metrics } = ctx
  let pending = batch
  for (let depth = ctx.syncPrefix; depth < layers.length && pending.length > 0; depth++) {
    const layer = layers[depth]!
    let values: readonly Cached<V>[]
    const start = performance.now()
    try {
      values = await layer.getMany(pending.map((flight) => flight.id))
    } catch (error) {
      report(error, layer.name, 'read')
      continue
    } finally {
      if (layer.shared) metrics?.timing('redis', performance.now() - start)
    }
    const found: Found<V>[] = []
    const missing: Flight<V>[] = []
    const trusted = !layer.shared || ctx.trusted()
    pending.forEach((flight, i) => {
      const value = trusted ? values[i] : undefined
      const hit = value !== undefined && (servable === undefined || servable(value))
      metrics?.layer(layer.name, hit)
      if (hit) found.push([flight, value])
      else missing.push(flight)
    })
    if (found.length > 0) settle(ctx, found, depth)
    pending = missing
  }
  if (pending.length > 0) await fromSource(ctx, pending)
}

/**
 * The loader of a cache: `load(id)` starts a load, queued with the others of this tick; the queue
 * is read in batches of at most `maxBatchSize`.
 *
 * @example
 * const load = createBatchLoader(ctx, 500)
 * const value = await load('user-1')
 */
export function createBatchLoader<V>(
  ctx: LoadContext<V>,
  maxBatchSize: number,
): (id: string) => Promise<V | null> {
  let queue: Flight<V>[] = []

  function flush(): void {
    const batch = queue
    queue = []
    for (let start = 0; start < batch.length; start += maxBatchSize) {
      const chunk = batch.slice(start, start + maxBatchSize)
      loadBatch(ctx, chunk).catch((error: unknown) => fail(ctx, chunk, error))
    }
  }

  return (id) => {
    let resolve!: (value: V | null) => void
    let reject!: (error: unknown) => void
    const promise = new Promise<V | null>((res, rej) => {
      resolve = res
      reject = rej
    })
    const flight: Flight<V> = { id, stale: false, promise, resolve, reject }
    ctx.flights.set(id, flight)
    queue.push(flight)
    // Like DataLoader: wait for the current promise jobs, then one more tick, so that reads
    // started by the same event (e.g. Promise.all over many ids) land in one batch.
    if (queue.length === 1) void Promise.resolve().then(() => process.nextTick(flush))
    return promise
  }
}
