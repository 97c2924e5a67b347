import * as crypto from 'node:crypto'
import { LRUCache } from 'lru-cache'
import type { AuthContext, Clock, RevocationSubject } from '../types.js'

/**
 * Derives the revocation hash (`RevocationSubject.tokenHash`) from the token a request carried: the
 * bearer handler hashes the JWS Signing Input of its canonical form, the introspected handler the
 * token itself. One function per handler, so no closure is made per request.
 */
export type TokenHasher = (token: string) => string

/**
 * A verified token: the context callers see (`sub`, `claims`, `permissions`, `expiresAt`; frozen)
 * carrying, in private fields that no caller can see or copy, what the cache and the revocation
 * check need. One flat object per cached token keeps an entry small; its validity bounds are whole
 * seconds, so V8 keeps them unboxed.
 */
export class VerifiedContext implements AuthContext {
  readonly sub: string
  readonly claims: Readonly<Record<string, unknown>>
  readonly permissions: readonly string[]
  readonly expiresAt: number | undefined
  /** Acceptable while `nowMs < #validUntil * 1000` (whole seconds, exact; see `checkClaims`). */
  #validUntil: number
  /** Acceptable once `nowMs >= #validFrom * 1000`. */
  #validFrom: number
  /**
   * The revocation hash, once a revocation list has asked for it. An entry is made without it: a
   * list reads it only while it holds token revocations, and a cached entry that never needs it
   * saves the string (about a tenth of the entry).
   */
  #tokenHash: string | undefined

  constructor(
    sub: string,
    claims: Readonly<Record<string, unknown>>,
    permissions: readonly string[],
    expiresAt: number | undefined,
    validity: { readonly validUntil: number; readonly validFrom: number },
  ) {
    this.sub = sub
    this.claims = claims
    this.permissions = permissions
    this.expiresAt = expiresAt
    this.#validUntil = validity.validUntil
    this.#validFrom = validity.validFrom
    this.#tokenHash = undefined
    Object.freeze(this)
  }

  /** 0: acceptable at `nowMs`; 1: not yet (`nbf`); 2: no longer. */
  static validityAt(context: VerifiedContext, nowMs: number): 0 | 1 | 2 {
    if (nowMs >= context.#validUntil * 1000) return 2
    return nowMs < context.#validFrom * 1000 ? 1 : 0
  }

  /**
   * The hash revocation by token keys on: `hash(token)` on first use, then kept. `token` must be
   * the token this context was verified from; on a cache hit it is, as the cache key is its
   * SHA-256.
   */
  static tokenHash(context: VerifiedContext, token: string, hash: TokenHasher): string {
    if (context.#tokenHash === undefined) context.#tokenHash = hash(token)
    return context.#tokenHash
  }

  /**
   * What a revocation list checks: the token hash (derived on demand from `token` with `hash`),
   * `jti`, `sub` and `iat`.
   */
  static subject(context: VerifiedContext, token: string, hash: TokenHasher): RevocationSubject {
    return new Subject(context, token, hash)
  }
}

/** The object a subject stands for (its cached context), the same on every request for one token. */
export const SUBJECT_IDENTITY = Symbol('authframework.subjectIdentity')

/**
 * A verified token as a revocation list sees it. Built on every request, so it holds only the
 * context and the request's token, and each field is read from them on demand: the embedded list
 * reads none while it is empty, and the token hash only while it holds token revocations.
 * `SUBJECT_IDENTITY` gives the context, so that work derived from a subject can be
 * memoised per cached token (see `subjectKeys`).
 */
class Subject implements RevocationSubject {
  readonly #context: VerifiedContext
  /** The request's token: kept only for the request, and never visible to the list. */
  readonly #token: string
  readonly #hash: TokenHasher

  constructor(context: VerifiedContext, token: string, hash: TokenHasher) {
    this.#context = context
    this.#token = token
    this.#hash = hash
  }

  get [SUBJECT_IDENTITY](): object {
    return this.#context
  }

  get tokenHash(): string {
    return VerifiedContext.tokenHash(this.#context, this.#token, this.#hash)
  }

  get jti(): string | undefined {
    const jti = this.#context.claims.jti
    return typeof jti === 'string' ? jti : undefined
  }

  get sub(): string {
    return this.#context.sub
  }

  get iat(): number | undefined {
    const iat = this.#context.claims.iat
    return typeof iat === 'number' ? iat : undefined
  }
}

export interface VerificationCache {
  /** The entry for this exact token string, if it is still within its validity window. */
  get(key: string): VerifiedContext | undefined
  /** Caches a verified entry; when full, only a key seen before (see `createDoorkeeper`). */
  set(key: string, entry: VerifiedContext): void
  delete(key: string): void
  /** Drops every entry `drop` says so of (one issuer's, when its keys rotate): rare, a full pass. */
  deleteWhere(drop: (entry: VerifiedContext) => boolean): void
  clear(): void
  /** The latest `validUntil` (whole seconds) an entry made at `nowMs` may have: `maxTtlSeconds` on. */
  limit(nowMs: number): number
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
 * of forged tokens neither inserts nor evicts anything; once full, a key is admitted on its second
 * `set` only, so valid one-time tokens do not evict either. An entry's validity must already be
 * capped at `limit(now)` (the verifier does it when it builds the entry); `set` refuses one that is not.
 *
 * @example
 * const cache = createVerificationCache({ max: 10_000, maxTtlSeconds: 300, clock: Date.now })
 */
export function createVerificationCache(options: VerificationCacheOptions): VerificationCache {
  const max = options.max
  const lru = new LRUCache<string, VerifiedContext>({ max })
  const maxTtlMs = options.maxTtlSeconds * 1000
  const clock = options.clock
  const limit = (nowMs: number) => Math.floor((nowMs + maxTtlMs) / 1000)
  const door = createDoorkeeper(max)
  return {
    get(key) {
      const entry = lru.get(key)
      if (entry === undefined) return undefined
      const validity = VerifiedContext.validityAt(entry, clock())
      if (validity === 0) return entry
      if (validity === 2) lru.delete(key)
      return undefined
    },
    set(key, entry) {
      // an entry that outlives maxTtl from now (a caller that skipped `limit`) is not cached
      if (VerifiedContext.validityAt(entry, clock() + maxTtlMs) !== 2) return
      // full: a token evicts another only once it has been seen twice (the first sighting is noted)
      if (lru.size >= max && !door.seenBefore(key)) return
      lru.set(key, entry)
    },
    delete(key) {
      lru.delete(key)
    },
    deleteWhere(drop) {
      for (const [key, entry] of lru.entries()) if (drop(entry)) lru.delete(key)
    },
    clear() {
      lru.clear()
      door.clear()
    },
    limit,
    get size() {
      return lru.size
    },
  }
}

/** Most slots of the admission table: 64 Ki slots, 256 KiB, whatever the cache's size. */
const MAX_DOOR_SLOTS = 1 << 16

/**
 * The admission filter of a full cache (the "doorkeeper" of TinyLFU): a fixed table of 32-bit
 * fingerprints of token hashes, one slot per hash. The first sighting of a hash writes its
 * fingerprint; a later sighting that still finds it there is admitted, and the slot is freed.
 * A one-time token therefore costs a table write instead of an insertion, an eviction and a dead
 * entry for the garbage collector, and cannot push a token that is in use out of the cache. A
 * slot overwritten by another hash, or a rare fingerprint collision, only moves one admission.
 */
function createDoorkeeper(max: number) {
  let slots = 1024
  while (slots < max * 2 && slots < MAX_DOOR_SLOTS) slots *= 2
  const mask = slots - 1
  const table = new Int32Array(slots)
  return {
    seenBefore(key: string): boolean {
      // the key is base64url SHA-256, so its first ten characters carry 60 uniform bits
      const slot = mix(key, 0) & mask
      const print = mix(key, 5) | 1 // never 0, which marks a free slot
      if (table[slot] === print) {
        table[slot] = 0
        return true
      }
      table[slot] = print
      return false
    },
    clear() {
      table.fill(0)
    },
  }
}

/** Five base64url characters from `at` (30 bits of the hash), mixed into a 32-bit integer. */
function mix(key: string, at: number): number {
  let h = 0
  for (let i = at; i < at + 5; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x9e3779b1)
  return h ^ (h >>> 16)
}
