/**
 * RFC 7662 token introspection for opaque access tokens, composed: the HTTP client (`client.ts`,
 * an undici keep-alive pool to the authorization server), the two-layer cache of active answers
 * (`token-cache.ts`: memory, then Redis) and a circuit breaker in front of the endpoint; here, one
 * call in flight per token and the reading of the answer. The options are `introspector-options.ts`.
 */
import { cacheKey } from '../cache/verification-cache.js'
import { AuthUnavailableError } from '../errors.js'
import {
  CircuitOpenError,
  type CircuitState,
  createCircuitBreaker,
} from '../infra/circuit-breaker.js'
import type { TokenIntrospector } from '../types.js'
import { createIntrospectionClient, IntrospectionRequestError } from './client.js'
import { type IntrospectorOptions, resolveIntrospectorOptions } from './introspector-options.js'
import { createTokenCache, type IntrospectedClaims, type TokenCache } from './token-cache.js'

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

const REFUSED_TOKEN_TYPES = new Set([
  'refresh_token',
  'urn:ietf:params:oauth:token-type:refresh_token',
])

function hasJkt(cnf: unknown): boolean {
  return typeof (cnf as { jkt?: unknown } | null | undefined)?.jkt === 'string'
}

/**
 * Turns a 200 answer into claims: `null` when inactive or not usable as an access token (a refresh
 * token, a `DPoP` token type without the `cnf.jkt` that binds it), the claims otherwise. A `cnf`
 * goes through: the binding is checked against each request's proof (`checkConfirmation`). Members whose
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
  if (typeof type === 'string' && type.toLowerCase() === 'dpop' && !hasJkt(claims.cnf)) return null
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
  const { clock, clientIdAsSubject, ...resolved } = resolveIntrospectorOptions(options)
  const client = createIntrospectionClient(resolved.client)
  const cache: TokenCache | undefined =
    resolved.cache === undefined ? undefined : createTokenCache({ ...resolved.cache, clock })
  const breaker = createCircuitBreaker({ ...resolved.breaker, clock })
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
