/**
 * The options of the introspector: what each one means, its default, and the one check of them
 * all at construction (a bad one throws a `TypeError` naming it as `createAuth` users write it,
 * `introspection.<name>`). Validation only: `introspector.ts` builds the client and the cache.
 */
import { isRedisClient } from '../infra/redis-cluster.js'
import type { Clock } from '../types.js'
import { func, httpsUrl, invalid, oneOf, positiveInteger, positiveNumber } from '../validate.js'
import {
  basicClientAuth,
  type ClientAuth,
  type IntrospectionClientOptions,
  postClientAuth,
} from './client.js'
import type { IntrospectionRedisOptions, TokenCacheOptions } from './token-cache.js'

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

/** The options once checked, every default applied, in the shape of what they configure. */
export interface ResolvedIntrospectorOptions {
  readonly client: IntrospectionClientOptions
  /** `undefined`: no cache. */
  readonly cache: Omit<TokenCacheOptions, 'clock'> | undefined
  /** Checked by `createCircuitBreaker`. */
  readonly breaker: { readonly failureThreshold: number; readonly openMs: number }
  readonly clientIdAsSubject: boolean
  readonly clock: Clock
}

const WHERE = 'createIntrospector'
function clientAuthOf(options: IntrospectorOptions): ClientAuth {
  const { clientId, clientSecret, clientAuth, clientAuthMethod } = options
  if (clientAuth !== undefined) {
    if (clientSecret !== undefined) {
      invalid(
        WHERE,
        'introspection.clientAuth',
        'given alone: give either clientSecret or clientAuth, not both',
        'clientAuth: async () => ({ params })',
      )
    }
    return func<ClientAuth>(
      clientAuth,
      'introspection.clientAuth',
      'async () => ({ params })',
      WHERE,
    )
  }
  if (typeof clientId !== 'string' || clientId === '') {
    invalid(
      WHERE,
      'introspection.clientId',
      "the API's client id at the authorization server",
      "'orders-api'",
    )
  }
  if (typeof clientSecret !== 'string' || clientSecret === '') {
    invalid(
      WHERE,
      'introspection.clientSecret',
      'a client secret (or give clientAuth)',
      'process.env.INTROSPECTION_SECRET',
    )
  }
  const method = oneOf(
    clientAuthMethod ?? 'client_secret_basic',
    'introspection.clientAuthMethod',
    ['client_secret_basic', 'client_secret_post'],
    WHERE,
  )
  return method === 'client_secret_basic'
    ? basicClientAuth(clientId, clientSecret)
    : postClientAuth(clientId, clientSecret)
}

function cacheOf(options: IntrospectorOptions): ResolvedIntrospectorOptions['cache'] {
  if (options.cache === false) return undefined
  const d = INTROSPECTOR_DEFAULTS
  const c = options.cache ?? {}
  if (c === null || typeof c !== 'object') {
    invalid(WHERE, 'introspection.cache', 'an object or false', '{ maxTtlSeconds: 60 }')
  }
  const memory = c.memory ?? {}
  if (memory !== false && (memory === null || typeof memory !== 'object')) {
    invalid(WHERE, 'introspection.cache.memory', '{ max } or false', '{ max: 10000 }')
  }
  const redis = c.redis
  if (redis !== undefined) {
    if (!isRedisClient((redis as { client?: unknown } | null)?.client)) {
      invalid(
        WHERE,
        'introspection.cache.redis.client',
        'an ioredis client or Cluster',
        'new Redis(url, options)',
      )
    }
    if (redis.keyPrefix !== undefined && typeof redis.keyPrefix !== 'string') {
      invalid(WHERE, 'introspection.cache.redis.keyPrefix', 'a string', "'af:'")
    }
    positiveNumber(redis.timeoutMs ?? 250, 'introspection.cache.redis.timeoutMs', 250, WHERE)
  }
  return {
    maxTtlSeconds: integer(c.maxTtlSeconds, 'cache.maxTtlSeconds', d.maxTtlSeconds),
    memoryMax: memory === false ? false : integer(memory.max, 'cache.memory.max', d.memoryMax),
    redis,
  }
}

function integer(value: number | undefined, name: string, fallback: number): number {
  return positiveInteger(value ?? fallback, `introspection.${name}`, fallback, WHERE)
}

function number(value: number | undefined, name: string, fallback: number): number {
  return positiveNumber(value ?? fallback, `introspection.${name}`, fallback, WHERE)
}

/**
 * Checks the options of {@link createIntrospector} and applies the defaults; opens nothing.
 *
 * @example
 * const resolved = resolveIntrospectorOptions({ endpoint, clientId: 'api', clientSecret })
 * resolved.client.timeoutMs // 5000
 */
export function resolveIntrospectorOptions(
  options: IntrospectorOptions,
): ResolvedIntrospectorOptions {
  if (options === null || typeof options !== 'object') {
    invalid(WHERE, 'introspection', 'an object', '{ endpoint, clientId, clientSecret }')
  }
  const d = INTROSPECTOR_DEFAULTS
  const endpoint = httpsUrl(options.endpoint, 'introspection.endpoint', WHERE, {
    allowHttp: options.allowHttp === true,
    allowHttpHint:
      'tokens and the client secret travel to it: set allowHttp only on a trusted network',
    example: "'https://issuer.example/oauth2/introspect'",
    credentials: 'give them as clientId and clientSecret',
  })
  const auth = clientAuthOf(options)
  const clock = func<Clock>(options.clock ?? Date.now, 'introspection.clock', 'Date.now', WHERE)
  const hint = options.tokenTypeHint ?? d.tokenTypeHint
  if (hint !== false && (typeof hint !== 'string' || hint === '')) {
    invalid(WHERE, 'introspection.tokenTypeHint', 'a non-empty string or false', "'access_token'")
  }
  return Object.freeze({
    client: Object.freeze({
      endpoint,
      auth,
      tokenTypeHint: hint === false ? undefined : hint,
      timeoutMs: number(options.timeoutMs, 'timeoutMs', d.timeoutMs),
      connectTimeoutMs: number(options.connectTimeoutMs, 'connectTimeoutMs', d.connectTimeoutMs),
      requestTimeoutMs: number(options.requestTimeoutMs, 'requestTimeoutMs', d.requestTimeoutMs),
      maxConnections: integer(options.maxConnections, 'maxConnections', d.maxConnections),
      keepAliveTimeoutMs: number(
        options.keepAliveTimeoutMs,
        'keepAliveTimeoutMs',
        d.keepAliveTimeoutMs,
      ),
      maxResponseBytes: integer(options.maxResponseBytes, 'maxResponseBytes', d.maxResponseBytes),
    }),
    cache: cacheOf(options),
    breaker: Object.freeze({
      failureThreshold: options.breaker?.failureThreshold ?? d.failureThreshold,
      openMs: options.breaker?.openMs ?? d.openMs,
    }),
    clientIdAsSubject: options.clientIdAsSubject === true,
    clock,
  })
}
