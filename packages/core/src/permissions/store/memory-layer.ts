/** The process-local L1: an LRU with per-entry TTLs, answering synchronously. */
import { LRUCache } from 'lru-cache'
import type { Clock, PermissionRecord } from '../../types.js'
import { func, plainObject, positiveInteger, positiveNumber } from '../../validate.js'
import type { CachedValue, CacheLayer } from './layer.js'

export interface MemoryLayerOptions {
  /** Most users kept; the least recently used are evicted first. Default 10_000. */
  readonly max?: number
  /** How long a record is kept. Default 60. */
  readonly ttlSeconds?: number
  /** How long an unknown or inactive user is kept. Default 30 (capped at `ttlSeconds`). */
  readonly negativeTtlSeconds?: number
  /** Milliseconds since the epoch; inject to test TTLs without sleeping. Default `Date.now`. */
  readonly clock?: Clock
}

/** Default options of {@link memoryLayer}. */
export const MEMORY_LAYER_DEFAULTS = Object.freeze({
  max: 10_000,
  ttlSeconds: 60,
  negativeTtlSeconds: 30,
})

/** The memory layer: a {@link CacheLayer} whose reads never return a promise. */
export interface MemoryLayer extends CacheLayer {
  getSync(id: string): CachedValue
  get(id: string): CachedValue
  getMany(ids: readonly string[]): CachedValue[]
  set(id: string, value: PermissionRecord | null): void
  setMany(entries: ReadonlyArray<readonly [id: string, value: PermissionRecord | null]>): void
  delete(id: string): void
  clear(): void
  /** Entries currently held (expired ones may still count until they are touched). */
  readonly size: number
}

// lru-cache does not store null; a frozen sentinel stands for "unknown or inactive".
const NEGATIVE = Object.freeze({ negative: true as const })
type Stored = PermissionRecord | typeof NEGATIVE

const WHERE = 'memoryLayer'

/**
 * A process-local LRU cache layer with one TTL for records and a shorter one for unknown or
 * inactive users. No timers: expired entries are dropped when read.
 *
 * @example
 * const store = createPermissionStore({
 *   layers: [memoryLayer({ max: 50_000, ttlSeconds: 300 })],
 *   source: async (userId) => loadPermissions(userId),
 * })
 */
export function memoryLayer(options: MemoryLayerOptions = {}): MemoryLayer {
  plainObject(options, 'options', '{ max: 50000 }', WHERE)
  const d = MEMORY_LAYER_DEFAULTS
  const max = positiveInteger(options.max ?? d.max, 'max', d.max, WHERE)
  const ttlSeconds = positiveNumber(options.ttlSeconds ?? d.ttlSeconds, 'ttlSeconds', 300, WHERE)
  const negativeTtlSeconds = Math.min(
    ttlSeconds,
    positiveNumber(
      options.negativeTtlSeconds ?? d.negativeTtlSeconds,
      'negativeTtlSeconds',
      30,
      WHERE,
    ),
  )
  const clock = func<Clock>(options.clock ?? Date.now, 'clock', 'Date.now', WHERE)

  const cache = new LRUCache<string, Stored>({
    max,
    ttl: ttlSeconds * 1000,
    // Read the clock on every check (the default caches it for 1 ms with a timer per read).
    ttlResolution: 0,
    perf: { now: clock },
  })

  function get(id: string): CachedValue {
    const stored = cache.get(id)
    if (stored === undefined) return undefined
    return stored === NEGATIVE ? null : (stored as PermissionRecord)
  }

  function set(id: string, value: PermissionRecord | null): void {
    if (value === null) cache.set(id, NEGATIVE, { ttl: negativeTtlSeconds * 1000 })
    else cache.set(id, value)
  }

  return {
    name: 'memory',
    shared: false,
    getSync: get,
    get,
    getMany: (ids) => ids.map(get),
    set,
    setMany(entries) {
      for (const [id, value] of entries) set(id, value)
    },
    delete(id) {
      cache.delete(id)
    },
    clear() {
      cache.clear()
    },
    get size() {
      return cache.size
    },
    async close() {
      cache.clear()
    },
  }
}
