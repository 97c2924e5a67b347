import type { JsonWebKey } from 'node:crypto'
import { AuthUnavailableError, TokenInvalidError } from '../errors.js'
import { readLimited } from '../read-limited.js'
import type { Clock } from '../types.js'
import { httpsUrl, positiveNumber } from '../validate.js'
import type { Algorithm } from './algorithms.js'
import type { KeyResolver } from './key-resolver.js'
import { pickKeys } from './key-resolver.js'
import { importPublicKey, toVerifyKey, type VerifyKey } from './keys.js'

/** Options of a remote JWK Set. */
export interface RemoteKeySetOptions {
  /** The JWKS URL; `https:` unless the host is loopback or `allowHttp` is set. */
  readonly uri: string
  /** Abort a fetch after this long. Default 5000. */
  readonly timeoutMs?: number
  /** An unknown `kid` triggers a refetch at most this often. Default 30 000. */
  readonly cooldownMs?: number
  /** Refetch keys older than this. Default 600 000 (10 minutes). */
  readonly cacheMaxAgeMs?: number
  /** While the endpoint is failing, try it at most this often. Default 1000. */
  readonly failureBackoffMs?: number
  /** Largest response body accepted. Default 262 144. */
  readonly maxBytes?: number
  /** Largest number of keys kept from one response. Default 100. */
  readonly maxKeys?: number
  /** Allow `http:` to a non-loopback host (not recommended). Default false. */
  readonly allowHttp?: boolean
  /** A `fetch` to use instead of the global one (tests, proxies). */
  readonly fetch?: typeof fetch
}

/** The remote key set's options are `createAuth({ jwks })`'s, or an issuer's (`prefix`: `issuers[0].`). */
function positive(
  name: string,
  value: number | undefined,
  fallback: number,
  prefix: string,
): number {
  return positiveNumber(value ?? fallback, `${prefix}jwks.${name}`, fallback, 'createAuth')
}

/** JWK members that only a private or a symmetric key has (RFC 7518 sections 6.2.2, 6.3.2, 6.4.1). */
const SECRET_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const

/**
 * Imports the keys of a JWK Set document fetched from a remote endpoint (RFC 7517 section 5).
 *
 * The whole document is rejected (this throws, and the remote key set fails closed with
 * `auth_unavailable`) when:
 * - it has no `keys` array;
 * - any entry, whatever its `use`, holds private or symmetric key material (`d`, `p`, `q`, `dp`,
 *   `dq`, `qi`, `oth`, or the `k` of an `oct` key). A key set at a URL is public: a secret in it
 *   is compromised, anyone could sign with it, and a publisher that leaks one is not trusted for
 *   its other keys either. HMAC keys therefore never come from a JWKS URL (jose's key sets refuse
 *   HS* too); configure them with `secret` or `keys`. (Wycheproof "MixedKeySet".)
 * - two signature keys of the same `kty` share a `kid`: which key a token names would be
 *   ambiguous. Keys of different types may share one, as RFC 7517 section 4.5 allows, since the
 *   token's `alg` tells them apart. (Wycheproof "DuplicateKid".)
 *
 * Individual entries that cannot verify signatures are skipped, so that an issuer adding a key we
 * do not support does not take the others down: `use` other than `sig`, `key_ops` without
 * `verify`, a `kid` that is not a string, keys `importPublicKey` refuses (RSA under 2048 bits or
 * with a bad exponent or the ROCA fingerprint, an EC point not on its curve, an unsupported curve
 * or key type, an `alg` that does not fit the key), and keys that serve none of the allowed
 * algorithms. At most `maxKeys` keys are kept; the checks above cover the whole document.
 *
 * @example
 * const keys = keysFromJwks(JSON.parse(body), new Set(['RS256']), 100) // throws Error
 */
/** Where the keys of a fetched JWK Set come from, for the messages of keys it skips. */
const FROM_JWKS = { where: 'jwksUri', name: 'keys[]' } as const

export function keysFromJwks(
  document: unknown,
  allowed: ReadonlySet<Algorithm>,
  maxKeys: number,
): VerifyKey[] {
  const list = (document as { keys?: unknown } | null)?.keys
  if (!Array.isArray(list)) throw new Error('JWKS response has no "keys" array')
  const candidates: JsonWebKey[] = []
  const kids = new Set<string>()
  list.forEach((jwk: unknown, i) => {
    if (jwk === null || typeof jwk !== 'object' || Array.isArray(jwk)) return
    const entry = jwk as JsonWebKey
    if (entry.kty === 'oct' || SECRET_MEMBERS.some((name) => name in entry)) {
      throw new Error(`JWKS response keys[${i}] is a private or symmetric key; the set is rejected`)
    }
    const { use, key_ops: ops, kid } = entry
    if (use !== undefined && use !== 'sig') return
    if (ops !== undefined && !(Array.isArray(ops) && ops.includes('verify'))) return
    if (kid !== undefined && typeof kid !== 'string') return
    if (kid !== undefined) {
      const id = `${String(entry.kty)}\u0000${kid}`
      if (kids.has(id))
        throw new Error(`JWKS response keys[${i}] repeats a "kid"; the set is rejected`)
      kids.add(id)
    }
    candidates.push(entry)
  })
  const keys: VerifyKey[] = []
  for (const jwk of candidates) {
    if (keys.length >= maxKeys) break
    try {
      const key = toVerifyKey(importPublicKey(jwk, FROM_JWKS), allowed, FROM_JWKS)
      if (key) keys.push(key)
    } catch {
      // a key we cannot use (weak, malformed, unsupported) is skipped, not fatal
    }
  }
  return keys
}

/**
 * A remote JWK Set, hardened: one fetch in flight shared by concurrent callers, a timeout, no
 * redirects, a bounded body, a cooldown before an unknown `kid` causes another fetch, at most one
 * fetch per `failureBackoffMs` while the endpoint fails, and only signature keys. When keys
 * cannot be had, verification fails closed with `auth_unavailable`.
 *
 * @example
 * const resolver = createRemoteKeySet({ uri: 'https://issuer.example/.well-known/jwks.json' }, new Set(['RS256']), Date.now)
 *
 * `prefix` names the issuer whose key set it is (`issuers[0].`) in option messages.
 */
export function createRemoteKeySet(
  options: RemoteKeySetOptions,
  allowed: ReadonlySet<Algorithm>,
  clock: Clock,
  prefix = '',
): KeyResolver {
  const url = httpsUrl(options.uri, `${prefix}jwksUri`, 'createAuth', {
    allowHttp: options.allowHttp === true,
    allowHttpHint: `set ${prefix}jwks.allowHttp for a trusted network`,
    example: "'https://issuer.example/.well-known/jwks.json'",
  })
  const timeoutMs = positive('timeoutMs', options.timeoutMs, 5_000, prefix)
  const cooldownMs = positive('cooldownMs', options.cooldownMs, 30_000, prefix)
  const cacheMaxAgeMs = positive('cacheMaxAgeMs', options.cacheMaxAgeMs, 600_000, prefix)
  const failureBackoffMs = positive('failureBackoffMs', options.failureBackoffMs, 1_000, prefix)
  const maxBytes = positive('maxBytes', options.maxBytes, 262_144, prefix)
  const maxKeys = positive('maxKeys', options.maxKeys, 100, prefix)
  const doFetch = options.fetch ?? fetch
  const href = url.href

  let keys: readonly VerifyKey[] | undefined
  let document: string | undefined
  const changed = new Set<() => void>()
  let fetchedAt = Number.NEGATIVE_INFINITY
  let failedAt = Number.NEGATIVE_INFINITY
  let lastFailure: unknown
  let inflight: Promise<void> | undefined

  async function load(): Promise<void> {
    try {
      const response = await doFetch(href, {
        redirect: 'error',
        signal: AbortSignal.timeout(timeoutMs),
        headers: { accept: 'application/json, application/jwk-set+json' },
      })
      if (response.status !== 200) {
        await response.body?.cancel()
        throw new Error(`JWKS endpoint answered ${response.status}`)
      }
      const text = await readLimited(response, maxBytes, 'JWKS response')
      keys = keysFromJwks(JSON.parse(text), allowed, maxKeys)
      fetchedAt = clock()
      const previous = document
      document = text
      if (previous !== undefined && previous !== text) for (const listener of changed) listener()
    } catch (cause) {
      failedAt = clock()
      lastFailure = cause
      throw new AuthUnavailableError('The signing keys could not be fetched.', {
        cause,
        dependency: 'jwks',
      })
    }
  }

  function reload(): Promise<void> {
    if (inflight) return inflight
    if (clock() - failedAt < failureBackoffMs) {
      return Promise.reject(
        new AuthUnavailableError('The signing keys could not be fetched.', {
          cause: lastFailure,
          dependency: 'jwks',
        }),
      )
    }
    inflight = load().finally(() => {
      inflight = undefined
    })
    return inflight
  }

  function pick(alg: Algorithm, kid: string | undefined): readonly VerifyKey[] {
    const found = pickKeys(keys ?? [], alg, kid)
    if (kid === undefined && found.length > 1) {
      throw new TokenInvalidError('The token has no "kid" and several keys could verify it.')
    }
    return found
  }

  return {
    onKeysChanged(listener) {
      changed.add(listener)
    },
    resolve(alg, kid) {
      const now = clock()
      if (keys !== undefined && now - fetchedAt < cacheMaxAgeMs) {
        const found = pick(alg, kid)
        if (found.length > 0 || now - fetchedAt < cooldownMs) {
          if (found.length === 0) throw new TokenInvalidError('No signing key matches the token.')
          return found
        }
      }
      return reload().then(() => {
        const found = pick(alg, kid)
        if (found.length === 0) throw new TokenInvalidError('No signing key matches the token.')
        return found
      })
    },
  }
}
