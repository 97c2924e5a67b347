/**
 * The Prometheus families of the infrastructure gauges (`metrics.watch`): their catalogue (name,
 * type, HELP) and the samples of one {@link InfrastructureSnapshot}, with fixed label sets.
 */
import type { CircuitState } from '../infra/circuit-breaker.js'
import type { SubscriptionStatus } from '../infra/subscription.js'
import type { RevocationListState } from '../revocation/distributed.js'
import type { InfrastructureSnapshot } from './health.js'
import type { MetricFamily, MetricSample } from './prometheus.js'

type Meta = Omit<MetricFamily, 'values'>
const gauge = (name: string, help: string): Meta => ({ name, help, type: 'gauge' })
const counter = (name: string, help: string): Meta => ({ name, help, type: 'counter' })

/**
 * Every infrastructure metric (name, type, HELP), in exposition order. Label sets are fixed:
 * `state`, `reason`, `component` (`permissions`, `sessions`, `revocation`); never a host or a key.
 */
export const INFRASTRUCTURE_METRICS: readonly Meta[] = Object.freeze([
  gauge(
    'authframework_postgres_breaker_state',
    "The PostgreSQL query runner's breaker: 1 for its state (closed, open, half-open), 0 for the others.",
  ),
  gauge(
    'authframework_postgres_queries_in_flight',
    'Queries of the PostgreSQL runner in progress, those waiting for a connection included.',
  ),
  gauge(
    'authframework_postgres_queries_waiting',
    'Queries of the PostgreSQL runner waiting for a connection (at most maxWaiting beyond the free ones).',
  ),
  gauge(
    'authframework_postgres_pool_connections',
    'Connections of the pool, by state: idle, busy.',
  ),
  gauge(
    'authframework_postgres_pool_waiting',
    'Checkouts waiting in the pool for a connection (every user of the pool).',
  ),
  counter(
    'authframework_postgres_timeouts_total',
    'PostgreSQL queries that passed their deadline (checkout included).',
  ),
  counter(
    'authframework_postgres_refused_total',
    'PostgreSQL queries refused at once, by reason: busy (wait queue full), open (breaker open).',
  ),
  counter(
    'authframework_postgres_connections_destroyed_total',
    'PostgreSQL connections destroyed rather than returned (a deadline or a connection failure).',
  ),
  gauge(
    'authframework_redis_breaker_state',
    "A Redis layer's breaker, by component: 1 for its state (closed, open, half-open), 0 for the others.",
  ),
  gauge(
    'authframework_subscription_up',
    'A Redis pub/sub subscription, by component: 1 when subscribed and its heartbeats answered.',
  ),
  counter(
    'authframework_subscription_heartbeat_misses_total',
    'Heartbeats (or SUBSCRIBEs) of a subscription not answered in time; each replaced the connection.',
  ),
  counter(
    'authframework_subscription_losses_total',
    'Times a subscription went from live to lost (messages may have been missed).',
  ),
  counter(
    'authframework_subscription_replaced_connections_total',
    'Subscription connections replaced because they stalled (heartbeat, SUBSCRIBE or connect deadline).',
  ),
  gauge(
    'authframework_change_log_lag_seconds',
    'Seconds since the change log was last read from PostgreSQL (+Inf before its first read).',
  ),
  gauge('authframework_change_log_version', 'The highest change log version read so far.'),
  gauge(
    'authframework_revocation_state',
    'The distributed revocation list: 1 for its state (loading, live, disconnected, closed), 0 for the others.',
  ),
  gauge(
    'authframework_revocation_unpublished',
    'Revocations made here that wait to be published (Redis was unreachable).',
  ),
  gauge('authframework_revocation_entries', 'Revocations held in the local list.'),
])

const BREAKER_STATES: readonly CircuitState[] = ['closed', 'open', 'half-open']
const REVOCATION_STATES: readonly RevocationListState[] = [
  'loading',
  'live',
  'disconnected',
  'closed',
]

/** The samples of the watched components, by family name. */
function samplesOf(snap: InfrastructureSnapshot): Map<string, MetricSample[]> {
  const out = new Map<string, MetricSample[]>()
  const add = (name: string, labels: Record<string, string>, value: number) => {
    const list = out.get(`authframework_${name}`)
    if (list === undefined) out.set(`authframework_${name}`, [{ labels, value }])
    else list.push({ labels, value })
  }
  const oneHot = <S extends string>(
    name: string,
    states: readonly S[],
    current: S,
    labels: Record<string, string> = {},
  ) => {
    for (const state of states) add(name, { ...labels, state }, state === current ? 1 : 0)
  }
  const subscription = (component: string, status: SubscriptionStatus) => {
    add('subscription_up', { component }, status.state === 'live' ? 1 : 0)
    add('subscription_heartbeat_misses_total', { component }, status.heartbeatMisses)
    add('subscription_losses_total', { component }, status.losses)
    add('subscription_replaced_connections_total', { component }, status.replacedConnections)
  }

  const pg = snap.postgres
  if (pg !== undefined) {
    oneHot('postgres_breaker_state', BREAKER_STATES, pg.breaker)
    add('postgres_queries_in_flight', {}, pg.active)
    add('postgres_queries_waiting', {}, pg.waiting)
    if (pg.pool !== undefined) {
      add('postgres_pool_connections', { state: 'idle' }, pg.pool.idle)
      add('postgres_pool_connections', { state: 'busy' }, Math.max(0, pg.pool.total - pg.pool.idle))
      add('postgres_pool_waiting', {}, pg.pool.waiting)
    }
    add('postgres_timeouts_total', {}, pg.timeouts)
    add('postgres_refused_total', { reason: 'busy' }, pg.refusedBusy)
    add('postgres_refused_total', { reason: 'open' }, pg.refusedOpen)
    add('postgres_connections_destroyed_total', {}, pg.destroyed)
  }
  for (const [component, layer] of [
    ['permissions', snap.permissionsRedis],
    ['sessions', snap.sessionsRedis],
  ] as const) {
    if (layer === undefined) continue
    oneHot('redis_breaker_state', BREAKER_STATES, layer.circuit, { component })
    if (layer.subscription !== undefined) subscription(component, layer.subscription)
  }
  const revocation = snap.revocation
  if (revocation !== undefined) {
    subscription('revocation', revocation.subscription)
    oneHot('revocation_state', REVOCATION_STATES, revocation.state)
    add('revocation_unpublished', {}, revocation.unpublished)
    add('revocation_entries', {}, revocation.size)
  }
  if (snap.changes !== undefined) {
    const { lagMs, version } = snap.changes
    add('change_log_lag_seconds', {}, lagMs === null ? Number.POSITIVE_INFINITY : lagMs / 1000)
    add('change_log_version', {}, version)
  }
  return out
}

/** The infrastructure families that have samples (the watched components), in catalogue order. */
export function infrastructureFamilies(snap: InfrastructureSnapshot | undefined): MetricFamily[] {
  if (snap === undefined) return []
  const samples = samplesOf(snap)
  return INFRASTRUCTURE_METRICS.flatMap((meta) => {
    const values = samples.get(meta.name)
    return values === undefined ? [] : [{ ...meta, values }]
  })
}
