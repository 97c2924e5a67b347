import { LRUCache } from 'lru-cache'
import { AuthError, AuthUnavailableError } from '../errors.js'
import type { Clock } from '../types.js'
import { isPromise, type MaybePromise } from '../util.js'

/** Bounds of the cache, in milliseconds. */
export interface IssuerCacheOptions {
  /** Most issuers kept, and separately most unknown `iss` values remembered. */
  readonly max: number
  /** How long an answer is kept: a tenant's changed configuration is picked up after this. */
  readonly ttlMs: number
  /** How long "unknown issuer" is remembered. */
  readonly negativeTtlMs: number
  /** Most resolutions in flight; past it a new `iss` is answered 503 at once. */
  readonly maxPending: number
  /** How long a failed resolution is answered 503 before the resolver is asked again. */
  readonly failureBackoffMs?: number
  readonly clock: Clock
}

/** The answers of a resolver, by `iss`. */
export interface IssuerCache<T> {
  /** The value for `iss`: synchronous when cached; `undefined` for an unknown issuer. */
  get(iss: string): MaybePromise<T | undefined>
  clear(): void
}

interface Known<T> {
  readonly value: T
  readonly expiresAt: number
}

interface Unknown {
  /** `undefined`: the resolver said the issuer is unknown; else the failure, answered again. */
  readonly failure: AuthError | undefined
  readonly expiresAt: number
}

/**
 * A bounded, expiring cache in front of an issuer resolver (user code: a database, a service).
 * Known issuers and unknown `iss` values are kept apart, each in its own LRU of `max`, so that an
 * attacker cycling made-up `iss` values can neither evict a real tenant (and make its key set be
 * fetched again) nor make the resolver run for a value it already answered. Concurrent first
 * requests for one issuer share one resolution; at most `maxPending` run at once. A resolver that
 * throws or rejects is a 503 (`issuers`), answered again without asking for `failureBackoffMs`.
 * An expired answer is never served: it is handed to `load` with the issuer, so that what was
 * opened for it (a remote key set and its fetched keys) can be kept when the new answer is alike.
 *
 * @example
 * const cache = createIssuerCache(async (iss, expired) => open(await resolve(iss), expired), { max: 1000, ttlMs: 300_000, negativeTtlMs: 60_000, maxPending: 32, clock: Date.now })
 * const issuer = await cache.get(iss) // undefined: unknown
 */
export function createIssuerCache<T>(
  load: (iss: string, expired: T | undefined) => MaybePromise<T | undefined>,
  options: IssuerCacheOptions,
): IssuerCache<T> {
  const { clock, ttlMs, negativeTtlMs, maxPending } = options
  const failureBackoffMs = options.failureBackoffMs ?? 1000
  const known = new LRUCache<string, Known<T>>({ max: options.max })
  const unknown = new LRUCache<string, Unknown>({ max: options.max })
  const pending = new Map<string, Promise<T | undefined>>()

  function settle(iss: string, value: T | undefined): T | undefined {
    const now = clock()
    if (value === undefined)
      unknown.set(iss, { failure: undefined, expiresAt: now + negativeTtlMs })
    else known.set(iss, { value, expiresAt: now + ttlMs })
    return value
  }

  function failed(iss: string, cause: unknown): never {
    const failure =
      cause instanceof AuthError && cause.code === 'auth_unavailable'
        ? cause
        : new AuthUnavailableError('The issuer configuration could not be resolved.', {
            cause,
            dependency: 'issuers',
          })
    unknown.set(iss, { failure, expiresAt: clock() + failureBackoffMs })
    throw failure
  }

  function resolve(iss: string, expired: T | undefined): MaybePromise<T | undefined> {
    if (pending.size >= maxPending) {
      throw new AuthUnavailableError('Too many issuer resolutions are in flight.', {
        dependency: 'issuers',
      })
    }
    let result: MaybePromise<T | undefined>
    try {
      result = load(iss, expired)
    } catch (cause) {
      failed(iss, cause)
    }
    if (!isPromise(result)) return settle(iss, result)
    const shared = result.then(
      (value) => settle(iss, value),
      (cause: unknown) => failed(iss, cause),
    )
    const done = () => {
      pending.delete(iss)
    }
    shared.then(done, done)
    pending.set(iss, shared)
    return shared
  }

  return {
    get(iss) {
      const now = clock()
      const hit = known.get(iss)
      if (hit !== undefined && now < hit.expiresAt) return hit.value
      const miss = unknown.get(iss)
      if (miss !== undefined && now < miss.expiresAt) {
        if (miss.failure !== undefined) throw miss.failure
        return undefined
      }
      // an expired answer stays until the new one replaces it, and is handed to `load`
      return pending.get(iss) ?? resolve(iss, hit?.value)
    },
    clear() {
      known.clear()
      unknown.clear()
    },
  }
}
