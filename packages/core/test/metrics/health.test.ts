/**
 * `metrics.watch`: the infrastructure gauges read at scrape time (their behaviour during real
 * outages: health-redis.int.test.ts and health-postgres.int.test.ts).
 */

import { parseExposition } from '@authframework/test-support/exposition'
import { Registry } from 'prom-client'
import { describe, expect, expectTypeOf, it } from 'vitest'
import {
  type ChangeLog,
  createAuth,
  createChangeLog,
  createMetrics,
  createPostgresRunner,
  createSigner,
  type DistributedRevocationList,
  INFRASTRUCTURE_METRICS,
  type InfrastructureComponents,
  type PostgresPool,
  type PostgresRunner,
  prometheusText,
  type RedisLayer,
  redisLayer,
  registerPrometheusMetrics,
  requestInput,
  type SessionRedisLayer,
  type SubscriptionStatus,
  sessionRedisLayer,
  type WatchedRedisLayer,
  type WatchedRevocationList,
} from '../../src/index.js'

const status = (state: SubscriptionStatus['state'], n = 0): SubscriptionStatus => ({
  state,
  heartbeatMisses: n,
  losses: n,
  replacedConnections: n,
})

/** Stand-ins with the getters the metrics read, mutable by the test. */
function standIns() {
  const stats = {
    breaker: 'closed' as 'closed' | 'open' | 'half-open',
    waiting: 2,
    active: 5,
    timeouts: 7,
    refusedBusy: 3,
    refusedOpen: 11,
    destroyed: 4,
    pool: { total: 6, idle: 1, waiting: 9 },
  }
  const runner = {
    stats: () => ({ ...stats, pool: { ...stats.pool } }),
  } as unknown as PostgresRunner
  const changes = { version: 42, lagMs: 1500 }
  const revocation = {
    state: 'live' as WatchedRevocationList['state'],
    size: 12,
    unpublished: 0,
    subscription: status('live'),
  }
  const permissionsRedis = {
    circuit: 'closed' as WatchedRedisLayer['circuit'],
    subscription: status('live'),
  }
  const sessionsRedis = {
    circuit: 'closed' as WatchedRedisLayer['circuit'],
    subscription: status('live'),
  }
  return { stats, runner, changes, revocation, permissionsRedis, sessionsRedis }
}

/** The label sets each family may have: every label key, and the values it may take. */
const COMPONENTS = ['permissions', 'sessions', 'revocation']
const BREAKER = ['closed', 'open', 'half-open']
const ALLOWED: Record<string, Record<string, readonly string[]>> = {
  authframework_postgres_breaker_state: { state: BREAKER },
  authframework_postgres_queries_in_flight: {},
  authframework_postgres_queries_waiting: {},
  authframework_postgres_pool_connections: { state: ['idle', 'busy'] },
  authframework_postgres_pool_waiting: {},
  authframework_postgres_timeouts_total: {},
  authframework_postgres_refused_total: { reason: ['busy', 'open'] },
  authframework_postgres_connections_destroyed_total: {},
  authframework_redis_breaker_state: { component: ['permissions', 'sessions'], state: BREAKER },
  authframework_subscription_up: { component: COMPONENTS },
  authframework_subscription_heartbeat_misses_total: { component: COMPONENTS },
  authframework_subscription_losses_total: { component: COMPONENTS },
  authframework_subscription_replaced_connections_total: { component: COMPONENTS },
  authframework_change_log_lag_seconds: {},
  authframework_change_log_version: {},
  authframework_revocation_state: { state: ['loading', 'live', 'disconnected', 'closed'] },
  authframework_revocation_unpublished: {},
  authframework_revocation_entries: {},
}

const NAMES = INFRASTRUCTURE_METRICS.map((m) => m.name)

describe('metrics.watch: nothing watched', () => {
  it('adds nothing to the exposition and {} to the snapshot', () => {
    const metrics = createMetrics()
    expect(metrics.snapshot().infrastructure).toEqual({})
    const exposed = parseExposition(prometheusText(metrics))
    expect(NAMES.filter((name) => exposed.families.has(name))).toEqual([])
  })
})

describe('metrics.watch: the exposition', () => {
  it('writes every family with its HELP, TYPE, bounded labels and the values read', () => {
    const s = standIns()
    const metrics = createMetrics()
    metrics.watch({
      postgres: s.runner,
      changes: s.changes,
      revocation: s.revocation,
      permissionsRedis: s.permissionsRedis,
      sessionsRedis: s.sessionsRedis,
    })
    const exposed = parseExposition(prometheusText(metrics))
    for (const meta of INFRASTRUCTURE_METRICS) {
      expect(exposed.families.get(meta.name), meta.name).toEqual({
        help: meta.help,
        type: meta.type,
      })
      expect(meta.type === 'counter').toBe(meta.name.endsWith('_total'))
      expect(meta.name).toMatch(/^authframework_[a-z_]+$/)
    }
    expect(Object.keys(ALLOWED).sort()).toEqual([...NAMES].sort())
    // every sample's labels are from the fixed sets; every combination is there, once
    for (const name of NAMES) {
      const samples = exposed.samples.filter((sample) => sample.name === name)
      const allowed = ALLOWED[name]!
      const combinations = Object.values(allowed).reduce((n, values) => n * values.length, 1)
      expect(samples.length, name).toBe(combinations)
      for (const { labels } of samples) {
        expect(Object.keys(labels).sort(), name).toEqual(Object.keys(allowed).sort())
        for (const [key, value] of Object.entries(labels)) expect(allowed[key]).toContain(value)
      }
    }
    const v = (name: string, labels?: Record<string, string>) =>
      exposed.value(`authframework_${name}`, labels)
    expect(v('postgres_breaker_state', { state: 'closed' })).toBe(1)
    expect(v('postgres_breaker_state', { state: 'open' })).toBe(0)
    expect(v('postgres_queries_in_flight')).toBe(5)
    expect(v('postgres_queries_waiting')).toBe(2)
    expect(v('postgres_pool_connections', { state: 'idle' })).toBe(1)
    expect(v('postgres_pool_connections', { state: 'busy' })).toBe(5)
    expect(v('postgres_pool_waiting')).toBe(9)
    expect(v('postgres_timeouts_total')).toBe(7)
    expect(v('postgres_refused_total', { reason: 'busy' })).toBe(3)
    expect(v('postgres_refused_total', { reason: 'open' })).toBe(11)
    expect(v('postgres_connections_destroyed_total')).toBe(4)
    expect(v('change_log_lag_seconds')).toBe(1.5)
    expect(v('change_log_version')).toBe(42)
    expect(v('revocation_state', { state: 'live' })).toBe(1)
    expect(v('revocation_entries')).toBe(12)
    expect(v('revocation_unpublished')).toBe(0)
    for (const component of COMPONENTS) {
      expect(v('subscription_up', { component })).toBe(1)
    }
  })

  it('reads the components at each scrape: an outage shows, and its recovery', () => {
    const s = standIns()
    const metrics = createMetrics()
    metrics.watch({
      postgres: s.runner,
      changes: s.changes,
      revocation: s.revocation,
      permissionsRedis: s.permissionsRedis,
    })
    const scrape = () => parseExposition(prometheusText(metrics))
    s.stats.breaker = 'half-open'
    s.changes.lagMs = 4250
    s.revocation.state = 'disconnected'
    s.revocation.unpublished = 2
    s.revocation.subscription = status('lost', 3)
    s.permissionsRedis.circuit = 'open'
    s.permissionsRedis.subscription = status('lost', 1)
    let exposed = scrape()
    expect(exposed.value('authframework_postgres_breaker_state', { state: 'half-open' })).toBe(1)
    expect(exposed.value('authframework_postgres_breaker_state', { state: 'closed' })).toBe(0)
    expect(exposed.value('authframework_change_log_lag_seconds')).toBe(4.25)
    expect(exposed.value('authframework_revocation_state', { state: 'disconnected' })).toBe(1)
    expect(exposed.value('authframework_revocation_state', { state: 'live' })).toBe(0)
    expect(exposed.value('authframework_revocation_unpublished')).toBe(2)
    expect(exposed.value('authframework_subscription_up', { component: 'revocation' })).toBe(0)
    expect(
      exposed.value('authframework_subscription_heartbeat_misses_total', {
        component: 'revocation',
      }),
    ).toBe(3)
    expect(
      exposed.value('authframework_redis_breaker_state', {
        component: 'permissions',
        state: 'open',
      }),
    ).toBe(1)
    expect(exposed.value('authframework_subscription_up', { component: 'permissions' })).toBe(0)
    // sessions were not watched: no sample of theirs
    expect(exposed.samples.filter((x) => x.labels.component === 'sessions')).toEqual([])

    s.stats.breaker = 'closed'
    s.changes.lagMs = 30
    s.revocation.state = 'live'
    s.revocation.subscription = status('live', 3)
    s.permissionsRedis.circuit = 'closed'
    exposed = scrape()
    expect(exposed.value('authframework_postgres_breaker_state', { state: 'closed' })).toBe(1)
    expect(exposed.value('authframework_change_log_lag_seconds')).toBe(0.03)
    expect(exposed.value('authframework_subscription_up', { component: 'revocation' })).toBe(1)
    expect(
      exposed.value('authframework_redis_breaker_state', {
        component: 'permissions',
        state: 'closed',
      }),
    ).toBe(1)
  })

  it('reads nothing while requests are recorded, only when a snapshot or scrape is taken', async () => {
    let reads = 0
    const counted = <T extends object>(target: T): T =>
      new Proxy(target, {
        get(object, key, receiver) {
          reads++
          return Reflect.get(object, key, receiver)
        },
      })
    const s = standIns()
    const metrics = createMetrics()
    metrics.watch({
      postgres: counted(s.runner),
      changes: counted(s.changes),
      revocation: counted(s.revocation),
      permissionsRedis: counted(s.permissionsRedis),
    })
    reads = 0
    const secret = 'an-hmac-secret-of-more-than-thirty-two-bytes!!'
    const auth = createAuth({ algorithms: ['HS256'], secret, audience: 'api', metrics })
    const token = createSigner({ algorithm: 'HS256', secret, audience: 'api' }).sign({ sub: 'u' })
    for (let i = 0; i < 20; i++) {
      await auth.authenticate(requestInput({ headers: { authorization: `Bearer ${token}` } }))
    }
    expect(reads).toBe(0)
    expect(metrics.snapshot().authentications.ok).toBe(20)
    expect(reads).toBeGreaterThan(0)
  })
})

describe('metrics.watch: real components without a network', () => {
  it('postgres: a pool without a runner is not given one; its runner is read once it exists', async () => {
    const pool = {
      query: async () => {
        throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })
      },
      totalCount: 3,
      idleCount: 2,
      waitingCount: 0,
    }
    const metrics = createMetrics()
    metrics.watch({ postgres: pool as unknown as PostgresPool })
    expect(metrics.snapshot().infrastructure.postgres).toEqual({
      breaker: 'closed',
      waiting: 0,
      active: 0,
      timeouts: 0,
      refusedBusy: 0,
      refusedOpen: 0,
      destroyed: 0,
      pool: { total: 3, idle: 2, waiting: 0 },
    })
    // watching did not make a runner with the defaults: the application still can
    const runner = createPostgresRunner(pool as unknown as PostgresPool, {
      breaker: { failureThreshold: 2, openMs: 60_000 },
    })
    for (let i = 0; i < 3; i++) await runner.query({ text: 'SELECT 1' }).catch(() => {})
    const exposed = parseExposition(prometheusText(metrics))
    expect(exposed.value('authframework_postgres_breaker_state', { state: 'open' })).toBe(1)
    expect(exposed.value('authframework_postgres_refused_total', { reason: 'open' })).toBe(1)
    expect(exposed.value('authframework_postgres_timeouts_total')).toBe(0)
  })

  it('the Redis layers: their breakers open after three failed calls', async () => {
    const client = {
      options: { enableOfflineQueue: false },
      status: 'ready',
      get: async () => {
        throw new Error('Connection is closed.')
      },
      mget: async () => {
        throw new Error('Connection is closed.')
      },
      duplicate: () => {
        throw new Error('not subscribed in this test')
      },
    }
    const permissionsRedis = redisLayer({ client: client as never, subscribe: false })
    const sessionsRedis = sessionRedisLayer({ client: client as never, subscribe: false })
    const metrics = createMetrics()
    metrics.watch({ permissionsRedis, sessionsRedis })
    const state = (component: string) => {
      const exposed = parseExposition(prometheusText(metrics))
      return BREAKER.filter(
        (s) => exposed.value('authframework_redis_breaker_state', { component, state: s }) === 1,
      )
    }
    expect([state('permissions'), state('sessions')]).toEqual([['closed'], ['closed']])
    for (let i = 0; i < 3; i++) {
      await permissionsRedis.get('alice').catch(() => {})
      await sessionsRedis.get('s'.repeat(43)).catch(() => {})
    }
    expect([state('permissions'), state('sessions')]).toEqual([['open'], ['open']])
    // no subscription (subscribe: false): no subscription samples, and none invented
    expect(metrics.snapshot().infrastructure.permissionsRedis).toEqual({ circuit: 'open' })
    expect(prometheusText(metrics)).not.toContain('authframework_subscription_up')
  })

  it('the change log before its first read: +Inf in Prometheus, null in JSON', async () => {
    const changes = createChangeLog({
      pool: { query: () => Promise.reject(new Error('down')) },
      onError: () => {},
    })
    try {
      const metrics = createMetrics()
      metrics.watch({ changes })
      expect(prometheusText(metrics)).toContain('authframework_change_log_lag_seconds +Inf\n')
      expect(JSON.parse(JSON.stringify(metrics.snapshot())).infrastructure).toEqual({
        changes: { version: 0, lagMs: null },
      })
      const registry = new Registry()
      registerPrometheusMetrics(registry as never, metrics)
      expect(await registry.metrics()).toContain('authframework_change_log_lag_seconds +Inf')
    } finally {
      await changes.close()
    }
  })
})

describe('metrics.watch: the API', () => {
  it('refuses a misspelt key, a wrong object and a component watched twice, naming the fix', () => {
    const s = standIns()
    const metrics = createMetrics()
    expect(() => metrics.watch({ postgress: s.runner } as never)).toThrow(
      new TypeError(
        "metrics.watch: unknown component 'postgress'; expected postgres, changes, revocation, permissionsRedis, sessionsRedis.",
      ),
    )
    // the store instead of its Redis layer
    expect(() => metrics.watch({ permissionsRedis: { lookup() {} } as never })).toThrow(
      /permissionsRedis must be the redisLayer\(\.\.\.\) given to the permission store \(not the store\)/,
    )
    expect(() => metrics.watch({ revocation: { isRevoked() {} } as never })).toThrow(
      /revocation must be the distributed revocation list/,
    )
    expect(() => metrics.watch({ postgres: 'postgres://db' as never })).toThrow(/postgres must be/)
    expect(() => metrics.watch(null as never)).toThrow(TypeError)
    // a refused call watched nothing, not even its valid keys
    expect(() => metrics.watch({ changes: s.changes, sessionsRedis: {} as never })).toThrow(
      TypeError,
    )
    expect(metrics.snapshot().infrastructure).toEqual({})
    metrics.watch({ changes: s.changes, postgres: undefined })
    expect(() => metrics.watch({ changes: s.changes })).toThrow(/changes is already watched/)
  })

  it('returns a function that stops watching; reset() keeps what is watched', () => {
    const s = standIns()
    const metrics = createMetrics()
    const stop = metrics.watch({ changes: s.changes, revocation: s.revocation })
    const other = metrics.watch({ permissionsRedis: s.permissionsRedis })
    metrics.reset()
    expect(Object.keys(metrics.snapshot().infrastructure)).toEqual([
      'changes',
      'revocation',
      'permissionsRedis',
    ])
    stop()
    expect(Object.keys(metrics.snapshot().infrastructure)).toEqual(['permissionsRedis'])
    other()
    expect(metrics.snapshot().infrastructure).toEqual({})
    metrics.watch({ changes: s.changes }) // may be watched again
  })

  it('a prom-client registry made before watch() scrapes what is watched later', async () => {
    const s = standIns()
    const metrics = createMetrics()
    const registry = new Registry()
    registerPrometheusMetrics(registry as never, metrics)
    metrics.watch({ revocation: s.revocation })
    const scraped = parseExposition(await registry.metrics())
    expect(scraped.value('authframework_revocation_state', { state: 'live' })).toBe(1)
    expect(scraped.value('authframework_subscription_up', { component: 'revocation' })).toBe(1)
    expect(scraped.families.get('authframework_revocation_state')?.type).toBe('gauge')
  })

  it('takes the components the core builds (types)', () => {
    expectTypeOf<RedisLayer>().toExtend<WatchedRedisLayer>()
    expectTypeOf<SessionRedisLayer>().toExtend<WatchedRedisLayer>()
    expectTypeOf<DistributedRevocationList>().toExtend<WatchedRevocationList>()
    expectTypeOf<ChangeLog>().toExtend<NonNullable<InfrastructureComponents['changes']>>()
    expectTypeOf<PostgresPool>().toExtend<NonNullable<InfrastructureComponents['postgres']>>()
    expectTypeOf<PostgresRunner>().toExtend<NonNullable<InfrastructureComponents['postgres']>>()
    expectTypeOf(createMetrics().watch).returns.toEqualTypeOf<() => void>()
  })
})
