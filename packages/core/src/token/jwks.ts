import { AuthUnavailableError, TokenInvalidError } from '../errors.js'
import type { Clock } from '../types.js'
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

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]'])

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback
  if (!Number.isFinite(value) || value <= 0) throw new TypeError(`jwks.${name}: expected a positive number`)
  return value
}

async function readLimited(response: Response, maxBytes: number): Promise<string> {
  const declared = Number(response.headers.get('content-length') ?? 0)
  if (declared > maxBytes) throw new Error(`JWKS response larger than ${maxBytes} bytes`)
  if (response.body === null) return ''
  const chunks: Uint8Array[] = []
  let size = 0
  const reader = response.body.getReader()
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    size += value.byteLength
    if (size > maxBytes) {
      await reader.cancel()
      throw new Error(`JWKS response larger than ${maxBytes} bytes`)
    }
    chunks.push(value)
  }
  return Buffer.concat(chunks).toString('utf8')
}

/** Imports the keys of a JWK Set document: signature keys only, bad entries skipped. */
export function keysFromJwks(
  document: unknown,
  allowed: ReadonlySet<Algorithm>,
  maxKeys: number,
): VerifyKey[] {
  const list = (document as { keys?: unknown } | null)?.keys
  if (!Array.isArray(list)) throw new Error('JWKS response has no "keys" array')
  const keys: VerifyKey[] = []
  for (const jwk of list) {
    if (keys.length >= maxKeys) break
    if (jwk === null || typeof jwk !== 'object') continue
    const { use, key_ops: ops, kid } = jwk as { use?: unknown; key_ops?: unknown; kid?: unknown }
    if (use !== undefined && use !== 'sig') continue
    if (ops !== undefined && !(Array.isArray(ops) && ops.includes('verify'))) continue
    if (kid !== undefined && typeof kid !== 'string') continue
    try {
      const key = toVerifyKey(importPublicKey(jwk, 'jwks'), allowed, 'jwks')
      if (key) keys.push(key)
    } catch {
      // a key we cannot use (private, symmetric, weak, unsupported) is skipped, not fatal
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
 */
export function createRemoteKeySet(
  options: RemoteKeySetOptions,
  allowed: ReadonlySet<Algorithm>,
  clock: Clock,
): KeyResolver {
  let url: URL
  try {
    url = new URL(options.uri)
  } catch {
    throw new TypeError('jwksUri: not a valid URL')
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new TypeError('jwksUri: only https: URLs are supported')
  }
  if (url.protocol === 'http:' && !LOOPBACK.has(url.hostname) && options.allowHttp !== true) {
    throw new TypeError('jwksUri: use https: (or set jwks.allowHttp for a trusted network)')
  }
  const timeoutMs = positive('timeoutMs', options.timeoutMs, 5_000)
  const cooldownMs = positive('cooldownMs', options.cooldownMs, 30_000)
  const cacheMaxAgeMs = positive('cacheMaxAgeMs', options.cacheMaxAgeMs, 600_000)
  const failureBackoffMs = positive('failureBackoffMs', options.failureBackoffMs, 1_000)
  const maxBytes = positive('maxBytes', options.maxBytes, 262_144)
  const maxKeys = positive('maxKeys', options.maxKeys, 100)
  const doFetch = options.fetch ?? fetch
  const href = url.href

  let keys: readonly VerifyKey[] | undefined
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
      keys = keysFromJwks(JSON.parse(await readLimited(response, maxBytes)), allowed, maxKeys)
      fetchedAt = clock()
    } catch (cause) {
      failedAt = clock()
      lastFailure = cause
      throw new AuthUnavailableError('The signing keys could not be fetched.', { cause })
    }
  }

  function reload(): Promise<void> {
    if (inflight) return inflight
    if (clock() - failedAt < failureBackoffMs) {
      return Promise.reject(
        new AuthUnavailableError('The signing keys could not be fetched.', { cause: lastFailure }),
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
