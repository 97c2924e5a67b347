import { type AuthErrorCode, ERROR_TABLE } from '../http.js'
import {
  createInfrastructureWatch,
  type InfrastructureComponents,
  type InfrastructureSnapshot,
} from './health.js'
import { createHistogram, type Histogram, type HistogramSnapshot } from './histogram.js'

/** What an infrastructure error is attributed to. A fixed set: never a host, a user or a path. */
export type Dependency =
  | 'jwks'
  | 'issuers'
  | 'permissions'
  | 'revocation'
  | 'sessions'
  | 'introspection'
  | 'basic'
  | 'redis'
  | 'postgres'
  | 'dpop'

/** How one authentication ended: `ok`, `anonymous` (optional mode) or an error code. */
export type Outcome = 'ok' | 'anonymous' | AuthErrorCode

/**
 * How one login (`authenticateUser`, an example's `POST /login`) ended: `ok` or the code of its
 * answer. `payload_too_large` is a body refused before any login work (HTTP 413).
 */
export type LoginOutcome =
  | 'ok'
  | 'credentials_invalid'
  | 'too_many_attempts'
  | 'invalid_request'
  | 'payload_too_large'
  | 'auth_unavailable'

/** Every {@link LoginOutcome}: the fixed label set of `authframework_logins_total`. */
export const LOGIN_OUTCOMES: readonly LoginOutcome[] = Object.freeze([
  'ok',
  'credentials_invalid',
  'too_many_attempts',
  'invalid_request',
  'payload_too_large',
  'auth_unavailable',
])

/** Names of the latency histograms. */
export type Timing = 'authenticate' | 'verify' | 'permissions' | 'redis' | 'postgres'

export interface LayerCounts {
  hits: number
  misses: number
}

/** A plain, JSON-serializable snapshot: `auth.metrics()`. */
export interface AuthMetricsSnapshot {
  readonly authentications: Readonly<Record<Outcome, number>>
  /** Logins by outcome (429s included), counted apart from token authentications. */
  readonly logins: Readonly<Record<LoginOutcome, number>>
  readonly verificationCache: LayerCounts
  /** Permission and session layers: `memory`, `redis`, `postgres`, ... */
  readonly layers: Readonly<Record<string, LayerCounts>>
  /** Route guards by the permissions they require (fixed at route definition). */
  readonly decisions: Readonly<Record<string, { allow: number; deny: number }>>
  readonly infrastructureErrors: Readonly<Record<Dependency, number>>
  /** Seconds. */
  readonly latency: Readonly<Record<Timing, HistogramSnapshot>>
  /** The components given to `watch`, read when the snapshot is taken (`{}` when none). */
  readonly infrastructure: InfrastructureSnapshot
}

/**
 * The counters and histograms of one or more instances. Recording is a few array writes; reading
 * (`snapshot`, Prometheus scrapes) does the work. Pass one `createMetrics()` to `createAuth` and to
 * the stores to see everything in one place.
 *
 * @example
 * const metrics = createMetrics()
 * const auth = createAuth({ ...options, metrics })
 * app.get('/metrics', (_req, res) => res.json(metrics.snapshot()))
 */
export interface AuthMetrics {
  authenticated(outcome: Outcome, ms: number): void
  /** One login ended (optional, for metrics objects made before logins were counted). */
  login?(outcome: LoginOutcome): void
  timing(name: Timing, ms: number): void
  verificationCache(hit: boolean): void
  layer(name: string, hit: boolean): void
  decision(guard: string, allowed: boolean): void
  infrastructureError(dependency: Dependency): void
  snapshot(): AuthMetricsSnapshot
  /** Cumulative histogram counts at the bounds (seconds), for exporters. */
  buckets(name: Timing, boundsSeconds: readonly number[]): number[]
  /**
   * Reads the state of the components the application wired at every `snapshot()` and scrape
   * (`snapshot().infrastructure`; Prometheus gauges such as `authframework_postgres_breaker_state`,
   * `authframework_subscription_up`, `authframework_change_log_lag_seconds`,
   * `authframework_revocation_state`). Nothing is recorded on the request path. Each component is
   * optional; a misspelt key or a wrong object (the store instead of its Redis layer) is a
   * `TypeError`. Returns a function that stops watching them.
   *
   * @example
   * const metrics = createMetrics()
   * const permissionsRedis = redisLayer({ client: redis })
   * const store = createPermissionStore({ layers: [memoryLayer(), permissionsRedis], source, changes })
   * const revocation = createRevocationList({ redis, pool, changes })
   * metrics.watch({ postgres: pool, changes, revocation, permissionsRedis })
   * metrics.snapshot().infrastructure.postgres?.breaker // 'closed'
   */
  watch(components: InfrastructureComponents): () => void
  /** Zeroes the counters and histograms; watched components stay (their counts are their own). */
  reset(): void
}

const OUTCOMES = ['ok', 'anonymous', ...Object.keys(ERROR_TABLE)] as Outcome[]
const DEPENDENCIES: Dependency[] = [
  'jwks',
  'issuers',
  'permissions',
  'revocation',
  'sessions',
  'introspection',
  'basic',
  'redis',
  'postgres',
  'dpop',
]
const TIMINGS: Timing[] = ['authenticate', 'verify', 'permissions', 'redis', 'postgres']
/** Bounds the label sets that come from configuration (guards, layers), whatever happens. */
const MAX_LABELS = 1000

function zeros<K extends string>(keys: readonly K[]): Record<K, number> {
  const out = {} as Record<K, number>
  for (const k of keys) out[k] = 0
  return out
}

export function createMetrics(): AuthMetrics {
  const outcomes = zeros(OUTCOMES)
  const logins = zeros(LOGIN_OUTCOMES)
  const dependencies = zeros(DEPENDENCIES)
  const histograms = {} as Record<Timing, Histogram>
  for (const t of TIMINGS) histograms[t] = createHistogram()
  const cache: LayerCounts = { hits: 0, misses: 0 }
  const layers = new Map<string, LayerCounts>()
  const decisions = new Map<string, { allow: number; deny: number }>()
  const infrastructure = createInfrastructureWatch()

  return {
    authenticated(outcome, ms) {
      outcomes[outcome]++
      histograms.authenticate.record(ms)
    },
    login(outcome) {
      // a fixed label set: anything else is not counted
      if (Object.hasOwn(logins, outcome)) logins[outcome]++
    },
    timing(name, ms) {
      histograms[name].record(ms)
    },
    verificationCache(hit) {
      if (hit) cache.hits++
      else cache.misses++
    },
    layer(name, hit) {
      let counts = layers.get(name)
      if (counts === undefined) {
        if (layers.size >= MAX_LABELS) return
        counts = { hits: 0, misses: 0 }
        layers.set(name, counts)
      }
      if (hit) counts.hits++
      else counts.misses++
    },
    decision(guard, allowed) {
      let counts = decisions.get(guard)
      if (counts === undefined) {
        if (decisions.size >= MAX_LABELS) return
        counts = { allow: 0, deny: 0 }
        decisions.set(guard, counts)
      }
      if (allowed) counts.allow++
      else counts.deny++
    },
    infrastructureError(dependency) {
      dependencies[dependency]++
    },
    snapshot() {
      const latency = {} as Record<Timing, HistogramSnapshot>
      for (const t of TIMINGS) latency[t] = histograms[t].snapshot()
      return {
        authentications: { ...outcomes },
        logins: { ...logins },
        verificationCache: { ...cache },
        layers: Object.fromEntries([...layers].map(([k, v]) => [k, { ...v }])),
        decisions: Object.fromEntries([...decisions].map(([k, v]) => [k, { ...v }])),
        infrastructureErrors: { ...dependencies },
        latency,
        infrastructure: infrastructure.read(),
      }
    },
    buckets(name, bounds) {
      return histograms[name].cumulative(bounds)
    },
    watch: infrastructure.watch,
    reset() {
      for (const k of OUTCOMES) outcomes[k] = 0
      for (const k of LOGIN_OUTCOMES) logins[k] = 0
      for (const k of DEPENDENCIES) dependencies[k] = 0
      for (const t of TIMINGS) histograms[t].reset()
      cache.hits = 0
      cache.misses = 0
      layers.clear()
      decisions.clear()
    },
  }
}
