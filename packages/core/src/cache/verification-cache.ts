import * as crypto from 'node:crypto'
import { LRUCache } from 'lru-cache'
import type { AuthContext, Clock, RevocationSubject } from '../types.js'

/**
 * One cached verification. Only successful verifications are ever stored. The entry is also what
 * revocation is checked against on every hit (`tokenHash`, `jti`, `sub`, `iat`): one object per
 * token keeps the cache small.
 */
export interface CacheEntry extends RevocationSubject {
  readonly context: AuthContext
  /** Not acceptable from this instant (ms): min(now + maxTtl, exp + tolerance, iat + maxAge). */
  readonly validUntilMs: number
  /** Not acceptable before this instant (ms): nbf − tolerance. */
  readonly validFromMs: number
}

export interface VerificationCache {
  /** The entry for this exact token string, if it is still within its validity window. */
  get(key: string): CacheEntry | undefined
  set(key: string, entry: CacheEntry): void
  delete(key: string): void
  clear(): void
  readonly size: number
}

export interface VerificationCacheOptions {
  /** Most entries kept; least recently used go first. */
  readonly max: number
  /** Longest an entry lives, whatever the token's `exp`. */
  readonly maxTtlSeconds: number
  readonly clock: Clock
}

/**
 * The cache key of a token: SHA-256 of the exact string as received. The token itself is never
 * kept. Re-encodings of one token (a `compressed:` form) have different keys: each is verified on
 * its own before it is cached.
 */
export const cacheKey: (token: string) => string =
  // one-shot crypto.hash (Node 20.12+) is the fast path; createHash serves older Node 20 releases
  typeof crypto.hash === 'function'
    ? (token) => crypto.hash('sha256', token, 'base64url')
    : (token) => crypto.createHash('sha256').update(token).digest('base64url')

/**
 * An LRU of verified contexts keyed by token hash. Entries are checked against the injected
 * clock on every hit (so `exp` and `nbf` hold even inside the TTL) and dropped once stale; the LRU
 * bound keeps memory fixed. Only the caller's successful verifications are inserted, so a flood
 * of forged tokens neither inserts nor evicts anything.
 *
 * @example
 * const cache = createVerificationCache({ max: 10_000, maxTtlSeconds: 300, clock: Date.now })
 */
export function createVerificationCache(options: VerificationCacheOptions): VerificationCache {
  const lru = new LRUCache<string, CacheEntry>({ max: options.max })
  const maxTtlMs = options.maxTtlSeconds * 1000
  const clock = options.clock
  return {
    get(key) {
      const entry = lru.get(key)
      if (entry === undefined) return undefined
      const now = clock()
      if (now >= entry.validUntilMs || now < entry.validFromMs) {
        if (now >= entry.validUntilMs) lru.delete(key)
        return undefined
      }
      return entry
    },
    set(key, entry) {
      const limit = clock() + maxTtlMs
      lru.set(key, entry.validUntilMs > limit ? { ...entry, validUntilMs: limit } : entry)
    },
    delete(key) {
      lru.delete(key)
    },
    clear() {
      lru.clear()
    },
    get size() {
      return lru.size
    },
  }
}
