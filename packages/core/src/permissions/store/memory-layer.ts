/** The process-local L1: an LRU with per-entry TTLs, answering synchronously. */
import { LRUCache } from 'lru-cache'
import type { Clock, PermissionRecord } from '../../types.js'
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

function positiveNumber(value: unknown, name: string, example: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new TypeError(`${name} must be a positive number, e.g. ${example}.`)
  }
  return value
}

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
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('memoryLayer(options): options must be an object.')
  }
  const max = options.max ?? MEMORY_LAYER_DEFAULTS.max
  if (!Number.isInteger(max) || max < 1) {
    throw new TypeError('memoryLayer: max must be a positive integer (entries), e.g. 50_000.')
  }
  const ttlSeconds = positiveNumber(
    options.ttlSeconds ?? MEMORY_LAYER_DEFAULTS.ttlSeconds,
    'memoryLayer: ttlSeconds',
    '300',
  )
  const negativeTtlSeconds = Math.min(
    ttlSeconds,
    positiveNumber(
      options.negativeTtlSeconds ?? MEMORY_LAYER_DEFAULTS.negativeTtlSeconds,
      'memoryLayer: negativeTtlSeconds',
      '30',
    ),
  )
  const clock = options.clock ?? Date.now
  if (typeof clock !== 'function') throw new TypeError('memoryLayer: clock must be a function.')

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
