/**
 * RFC 7662 token introspection for opaque access tokens: an undici keep-alive pool to the
 * authorization server, a two-layer cache of active answers (memory, then Redis), one call in
 * flight per token, and a circuit breaker in front of the endpoint.
 */
import { cacheKey } from '../cache/verification-cache.js'
import { AuthUnavailableError } from '../errors.js'
import {
  CircuitOpenError,
  type CircuitState,
  createCircuitBreaker,
} from '../infra/circuit-breaker.js'
import type { Clock, TokenIntrospector } from '../types.js'
import {
  basicClientAuth,
  type ClientAuth,
  createIntrospectionClient,
  IntrospectionRequestError,
  postClientAuth,
} from './client.js'
import {
  createTokenCache,
  type IntrospectedClaims,
  type IntrospectionRedisOptions,
  type TokenCache,
} from './token-cache.js'

/** Options of {@link createIntrospector} (and of `createAuth({ introspection: { ... } })`). */
export interface IntrospectorOptions {
  /** The introspection endpoint; `https:` unless the host is loopback or `allowHttp` is set. */
  readonly endpoint: string
  /** The API's client id at the authorization server (with `clientSecret`). */
  readonly clientId?: string
  /** The API's client secret; sent as `client_secret_basic` unless `clientAuthMethod` says otherwise. */
  readonly clientSecret?: string
  /** How `clientSecret` is sent. Default `'client_secret_basic'`. */
  readonly clientAuthMethod?: 'client_secret_basic' | 'client_secret_post'
  /** Custom client authentication instead of a secret (e.g. a `private_key_jwt` assertion). */
  readonly clientAuth?: ClientAuth
  /** Deadline of one introspection call, queueing for a connection included. Default 5000. */
  readonly timeoutMs?: number
  /** TCP (and TLS) connect timeout of the pool. Default 10 000. */
  readonly connectTimeoutMs?: number
  /** The pool's headers and body timeouts (a ceiling under `timeoutMs`). Default 30 000. */
  readonly requestTimeoutMs?: number
  /**
   * Most connections to the endpoint, busy or idle (undici's `connections`); more requests queue.
   * Default 20.
   */
  readonly maxConnections?: number
  /** Idle keep-alive connections are closed after this long (server hints may shorten it). Default 4000. */
  readonly keepAliveTimeoutMs?: number
  /** Largest response body accepted. Default 65 536. */
  readonly maxResponseBytes?: number
  /** The `token_type_hint` sent, or `false` for none. Default `'access_token'`. */
  readonly tokenTypeHint?: string | false
  /**
   * When an active answer has no `sub`, use its `client_id` (the subject of a client-credentials
   * token, as RFC 9068 does for JWT access tokens). Default false: such answers have no subject
   * and `createAuth` refuses them.
   */
  readonly clientIdAsSubject?: boolean
  /**
   * Cache of active answers, or `false`. Default `{ maxTtlSeconds: 300, memory: { max: 10_000 } }`.
   * An entry lives min(`maxTtlSeconds`, `exp` − now).
   */
  readonly cache?:
    | false
    | {
        readonly maxTtlSeconds?: number
        /** The process-local layer, or `false`. Default `{ max: 10_000 }`. */
        readonly memory?: false | { readonly max?: number }
        /** The shared layer: Redis, read after memory; a hit there fills memory. */
        readonly redis?: IntrospectionRedisOptions
      }
  /** Circuit breaker of the endpoint. Default 5 consecutive failures open it for 5000 ms. */
  readonly breaker?: { readonly failureThreshold?: number; readonly openMs?: number }
  /** Allow `http:` to a non-loopback host (not recommended: the token and the secret travel). */
  readonly allowHttp?: boolean
  /** Milliseconds since the epoch; for tests. Default `Date.now` (`createAuth` passes its own). */
  readonly clock?: Clock
}

/** Default options of {@link createIntrospector}. */
export const INTROSPECTOR_DEFAULTS = Object.freeze({
  timeoutMs: 5_000,
  connectTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  maxConnections: 20,
  keepAliveTimeoutMs: 4_000,
  maxResponseBytes: 65_536,
  tokenTypeHint: 'access_token',
  maxTtlSeconds: 300,
  memoryMax: 10_000,
  failureThreshold: 5,
  openMs: 5_000,
})

/** Counters since creation, for metrics and tests. */
export interface IntrospectorStats {
  /** Calls that reached the endpoint (answered or not). */
  readonly calls: number
  /** Requests that joined a call already in flight for the same token. */
  readonly coalesced: number
  readonly memoryHits: number
  readonly redisHits: number
  /** Redis calls that failed or timed out (each treated as a miss, or a skipped write). */
  readonly redisErrors: number
  /** Endpoint calls that failed: unreachable, timeout, non-200, too large, malformed. */
  readonly failures: number
  /** Requests refused at once because the breaker was open. */
  readonly shortCircuited: number
}

/** A {@link TokenIntrospector} with a cache: `evict` is the revocation hook. */
export interface Introspector extends TokenIntrospector {
  /**
   * Resolves the claims of an active token (without `active`), `null` for an inactive one (or one
   * that is not a bearer access token); rejects with `AuthUnavailableError` when the server cannot
   * answer usefully.
   */
  introspect(token: string): Promise<IntrospectedClaims | null>
  /**
   * Removes the token's answer from memory and Redis (and, through Redis pub/sub, from the memory
   * of every other instance), and detaches any call in flight for it from the cache. Rejects when
   * Redis cannot be reached, so that a revocation does not silently leave a cached answer behind.
   */
  evict(token: string): Promise<void>
  /**
   * Resolves once the cache is fully operational: with Redis, once the eviction subscription is
   * established (it otherwise starts with the first token). Optional to await.
   */
  ready(): Promise<void>
  /** The endpoint's circuit breaker. */
  readonly circuit: CircuitState
  readonly stats: IntrospectorStats
  close(): Promise<void>
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]'])

function fail(option: string, message: string): never {
  throw new TypeError(`introspection.${option}: ${message}`)
}

function positive(option: string, value: unknown, fallback: number, integer = false): number {
  if (value === undefined) return fallback
  if (
    typeof value !== 'number' ||
    !Number.isFinite(value) ||
    value <= 0 ||
    (integer && !Number.isInteger(value))
  ) {
    fail(option, `expected a positive ${integer ? 'integer' : 'number'}`)
  }
  return value
}

function endpointUrl(value: unknown, allowHttp: boolean): URL {
  if (typeof value !== 'string') fail('endpoint', 'expected the introspection endpoint URL')
  let url: URL
  try {
    url = new URL(value)
  } catch {
    fail('endpoint', 'not a valid URL')
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') fail('endpoint', 'use an https: URL')
  if (url.protocol === 'http:' && !LOOPBACK.has(url.hostname) && !allowHttp) {
    fail('endpoint', 'use https: (tokens and the client secret travel to it) or set allowHttp')
  }
  if (url.username !== '' || url.password !== '') {
    fail('endpoint', 'put the client credentials in clientId/clientSecret, not in the URL')
  }
  return url
}

function clientAuthOf(options: IntrospectorOptions): ClientAuth {
  const { clientId, clientSecret, clientAuth, clientAuthMethod } = options
  if (clientAuth !== undefined) {
    if (typeof clientAuth !== 'function') fail('clientAuth', 'expected a function')
    if (clientSecret !== undefined) fail('clientAuth', 'give either clientSecret or clientAuth')
    return clientAuth
  }
  if (typeof clientId !== 'string' || clientId === '') {
    fail('clientId', "expected the API's client id at the authorization server")
  }
  if (typeof clientSecret !== 'string' || clientSecret === '') {
    fail('clientSecret', 'expected a client secret (or give clientAuth)')
  }
  const method = clientAuthMethod ?? 'client_secret_basic'
  if (method === 'client_secret_basic') return basicClientAuth(clientId, clientSecret)
  if (method === 'client_secret_post') return postClientAuth(clientId, clientSecret)
  fail('clientAuthMethod', 'expected "client_secret_basic" or "client_secret_post"')
}

const REFUSED_TOKEN_TYPES = new Set([
  'refresh_token',
  'urn:ietf:params:oauth:token-type:refresh_token',
  'dpop',
])

/**
 * Turns a 200 answer into claims: `null` when inactive or not usable as a bearer access token
 * (a refresh token, a DPoP- or certificate-bound token: `cnf`), the claims otherwise. Members whose
 * value is the token itself (some servers answer `jti` = token) are dropped, so that the token never
 * reaches a cache or `req.auth`.
 */
export function claimsOf(
  answer: Record<string, unknown>,
  token: string,
  clientIdAsSubject: boolean,
): Record<string, unknown> | null {
  const { active, ...claims } = answer
  if (typeof active !== 'boolean') {
    throw new IntrospectionRequestError(
      'malformed',
      'The introspection answer has no boolean "active".',
    )
  }
  if (!active) return null
  const type = claims.token_type
  if (typeof type === 'string' && REFUSED_TOKEN_TYPES.has(type.toLowerCase())) return null
  if (typeof claims.token_use === 'string' && claims.token_use !== 'access_token') return null
  if (claims.cnf !== undefined) return null
  for (const key of Object.keys(claims)) if (claims[key] === token) delete claims[key]
  if (clientIdAsSubject && claims.sub === undefined && typeof claims.client_id === 'string') {
    claims.sub = claims.client_id
  }
  return claims
}

interface Flight {
  detached: boolean
  promise: Promise<IntrospectedClaims | null>
}

/**
 * Creates an introspector. Options are checked here (a bad one throws `TypeError`); no connection
 * is opened and undici is not loaded until the first opaque token arrives.
 *
 * @example
 * const introspector = createIntrospector({
 *   endpoint: 'https://as.example/oauth2/introspect',
 *   clientId: 'orders-api',
 *   clientSecret: process.env.INTROSPECTION_SECRET!,
 *   cache: { maxTtlSeconds: 60, redis: { client: redis, keyPrefix: 'orders:' } },
 * })
 * const auth = createAuth({ jwksUri, algorithms: ['RS256'], issuer, audience, introspection: introspector })
 * // on revocation: await introspector.evict(token)
 */
export function createIntrospector(options: IntrospectorOptions): Introspector {
  if (options === null || typeof options !== 'object') {
    throw new TypeError('introspection: expected { endpoint, clientId, clientSecret } options')
  }
  const d = INTROSPECTOR_DEFAULTS
  const endpoint = endpointUrl(options.endpoint, options.allowHttp === true)
  const auth = clientAuthOf(options)
  const clock = options.clock ?? Date.now
  if (typeof clock !== 'function') fail('clock', 'expected a function returning milliseconds')
  const hint = options.tokenTypeHint ?? d.tokenTypeHint
  if (hint !== false && (typeof hint !== 'string' || hint === '')) {
    fail('tokenTypeHint', 'expected a string such as "access_token", or false')
  }
  const maxResponseBytes = positive(
    'maxResponseBytes',
    options.maxResponseBytes,
    d.maxResponseBytes,
    true,
  )
  const client = createIntrospectionClient({
    endpoint,
    auth,
    tokenTypeHint: hint === false ? undefined : hint,
    timeoutMs: positive('timeoutMs', options.timeoutMs, d.timeoutMs),
    connectTimeoutMs: positive('connectTimeoutMs', options.connectTimeoutMs, d.connectTimeoutMs),
    requestTimeoutMs: positive('requestTimeoutMs', options.requestTimeoutMs, d.requestTimeoutMs),
    maxConnections: positive('maxConnections', options.maxConnections, d.maxConnections, true),
    keepAliveTimeoutMs: positive(
      'keepAliveTimeoutMs',
      options.keepAliveTimeoutMs,
      d.keepAliveTimeoutMs,
    ),
    maxResponseBytes,
  })

  let cache: TokenCache | undefined
  if (options.cache !== false) {
    const c = options.cache ?? {}
    if (c === null || typeof c !== 'object') fail('cache', 'expected an object or false')
    const memory = c.memory ?? {}
    if (memory !== false && (memory === null || typeof memory !== 'object')) {
      fail('cache.memory', 'expected { max } or false')
    }
    const redis = c.redis
    if (redis !== undefined) {
      const redisClient = (redis as { client?: { get?: unknown; duplicate?: unknown } } | null)
        ?.client
      if (typeof redisClient?.get !== 'function' || typeof redisClient.duplicate !== 'function') {
        fail('cache.redis.client', 'expected an ioredis client (new Redis(url, options))')
      }
      if (redis.keyPrefix !== undefined && typeof redis.keyPrefix !== 'string') {
        fail('cache.redis.keyPrefix', "expected a string such as 'af:'")
      }
      positive('cache.redis.timeoutMs', redis.timeoutMs, 250)
    }
    cache = createTokenCache({
      maxTtlSeconds: positive('cache.maxTtlSeconds', c.maxTtlSeconds, d.maxTtlSeconds, true),
      memoryMax:
        memory === false ? false : positive('cache.memory.max', memory.max, d.memoryMax, true),
      redis,
      clock,
    })
  }
  const breaker = createCircuitBreaker({
    failureThreshold: options.breaker?.failureThreshold ?? d.failureThreshold,
    openMs: options.breaker?.openMs ?? d.openMs,
    clock,
  })
  const clientIdAsSubject = options.clientIdAsSubject === true

  const flights = new Map<string, Flight>()
  const counts = { calls: 0, coalesced: 0, failures: 0, shortCircuited: 0 }

  async function ask(token: string): Promise<Record<string, unknown> | null> {
    if (!breaker.allow()) {
      counts.shortCircuited++
      throw new AuthUnavailableError('The introspection endpoint is failing; retry shortly.', {
        cause: new CircuitOpenError('The introspection endpoint'),
        dependency: 'introspection',
      })
    }
    counts.calls++
    try {
      const claims = claimsOf(await client.post(token), token, clientIdAsSubject)
      breaker.success()
      return claims
    } catch (cause) {
      breaker.failure()
      counts.failures++
      throw new AuthUnavailableError('The token could not be introspected.', {
        cause,
        dependency: 'introspection',
      })
    }
  }

  async function lookup(token: string, hash: string, flight: Flight) {
    const shared = await cache?.shared(hash, () => !flight.detached)
    if (shared !== undefined) return shared
    const claims = await ask(token)
    if (claims === null) return null
    const exp = claims.exp
    // a non-numeric exp is not cached (createAuth refuses it anyway)
    if (cache !== undefined && !flight.detached && (exp === undefined || Number.isFinite(exp))) {
      const validUntil = exp === undefined ? Number.POSITIVE_INFINITY : (exp as number) * 1000
      if (validUntil > clock()) await cache.set(hash, claims, validUntil)
    }
    return claims
  }

  return {
    introspect(token) {
      if (typeof token !== 'string' || token === '') return Promise.resolve(null)
      const hash = cacheKey(token)
      const hit = cache?.memory(hash)
      if (hit !== undefined) return Promise.resolve(hit)
      const pending = flights.get(hash)
      if (pending !== undefined) {
        counts.coalesced++
        return pending.promise
      }
      const flight: Flight = { detached: false, promise: Promise.resolve(null) }
      flight.promise = lookup(token, hash, flight).finally(() => {
        if (flights.get(hash) === flight) flights.delete(hash)
      })
      flights.set(hash, flight)
      return flight.promise
    },
    async evict(token) {
      if (typeof token !== 'string' || token === '') return
      const hash = cacheKey(token)
      const flight = flights.get(hash)
      if (flight !== undefined) {
        flight.detached = true
        flights.delete(hash)
      }
      await cache?.evict(hash)
    },
    ready() {
      return cache?.ready() ?? Promise.resolve()
    },
    get circuit() {
      return breaker.state
    },
    get stats() {
      return {
        ...counts,
        memoryHits: cache?.stats.memoryHits ?? 0,
        redisHits: cache?.stats.redisHits ?? 0,
        redisErrors: cache?.stats.redisErrors ?? 0,
      }
    },
    async close() {
      flights.clear()
      await Promise.all([client.close(), cache?.close()])
    },
  }
}
