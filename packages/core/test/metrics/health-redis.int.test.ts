/**
 * What `/metrics` shows while Redis is cut, stalled or black-holed (TCP proxy in front of the real
 * Redis), and while the instance that made a revocation cannot reach Redis: the gauges of
 * `metrics.watch` read through the Prometheus text, under steady traffic, with the defaults
 * (heartbeat 1000 / 1000 ms, layer deadline 250 ms, breakers 3 failures / 5000 ms).
 */
import { randomBytes } from 'node:crypto'
import { type Exposition, firstSeen, parseExposition } from '@authframework/test-support/exposition'
import { useRedisFaultFixture } from '@authframework/test-support/fault-fixture'
import { connectRedis, REDIS_URL, viaProxy } from '@authframework/test-support/services'
import type { TcpProxy } from '@authframework/test-support/tcp-proxy'
import type { Redis } from 'ioredis'
import type pg from 'pg'
import { beforeAll, describe, expect, it } from 'vitest'
import {
  createChangeLog,
  createMetrics,
  createPermissionStore,
  createRevocationList,
  createSessionStore,
  postgresSessionSource,
  postgresSource,
  prometheusText,
  redisLayer,
  sessionRedisLayer,
} from '../../src/index.js'

const fault = useRedisFaultFixture({ poolMax: 6, seed: { users: [{ id: 'alice' }] } })
const { prefix, cleanup } = fault
let pool: pg.Pool, proxy: TcpProxy
beforeAll(() => {
  ;({ pool, proxy } = fault.ready())
})

const COMPONENTS = ['permissions', 'sessions', 'revocation'] as const
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const up = (e: Exposition, component: string) =>
  e.value('authframework_subscription_up', { component })
const breaker = (e: Exposition, component: string, state: string) =>
  e.value('authframework_redis_breaker_state', { component, state })
const revocationState = (e: Exposition, state: string) =>
  e.value('authframework_revocation_state', { state })
const ms = (n: number) => `${n.toFixed(0)} ms`

/** One instance whose Redis goes through the proxy, watched by its metrics, under steady traffic. */
async function instance() {
  const client: Redis = await connectRedis(viaProxy(REDIS_URL, proxy))
  const permissionsRedis = redisLayer({ client, keyPrefix: prefix })
  const sessionsRedis = sessionRedisLayer({ client, keyPrefix: prefix })
  const changes = createChangeLog({ pool })
  const store = createPermissionStore({
    layers: [permissionsRedis],
    source: postgresSource({ pool }),
    onError: () => {},
  })
  const sessions = createSessionStore({
    layers: [sessionsRedis],
    source: postgresSessionSource({ pool }),
    onError: () => {},
  })
  const revocation = createRevocationList({
    redis: client,
    pool,
    keyPrefix: prefix,
    onError: () => {},
  })
  const metrics = createMetrics()
  metrics.watch({ postgres: pool, changes, revocation, permissionsRedis, sessionsRedis })
  // a lookup and a session read every 25 ms, as requests would make them
  let running = true
  const traffic = (async () => {
    for (let i = 0; running; i++) {
      void store.lookup(`user-${i % 50}`).catch(() => {})
      void sessions.get(randomBytes(32).toString('base64url')).catch(() => {})
      await sleep(25)
    }
  })()
  cleanup.push(async () => {
    running = false
    await traffic
    await Promise.allSettled([store.close(), sessions.close(), revocation.close(), changes.close()])
    client.disconnect()
  })
  await Promise.all([store.ready(), sessions.ready(), revocation.ready(), changes.ready()])
  return { metrics, revocation }
}

describe('metrics during a Redis outage', () => {
  for (const kind of ['cut', 'stall', 'blackhole'] as const) {
    it(
      `${kind}: subscriptions down, breakers open, revocation disconnected; all back after the heal`,
      {
        timeout: 40_000,
      },
      async () => {
        const { metrics } = await instance()
        const scrape = () => prometheusText(metrics)
        const healthy = {
          subscribed: (e: Exposition) => COMPONENTS.every((c) => up(e, c) === 1),
          live: (e: Exposition) => revocationState(e, 'live') === 1,
          closed: (e: Exposition) =>
            breaker(e, 'permissions', 'closed') === 1 && breaker(e, 'sessions', 'closed') === 1,
        }
        await firstSeen(scrape, { healthy: (e) => Object.values(healthy).every((f) => f(e)) }, 5000)
        const before = metrics.snapshot().infrastructure

        proxy[kind]()
        let changeLogLag = 0
        const fault = await firstSeen(
          scrape,
          {
            down: (e) => COMPONENTS.every((c) => up(e, c) === 0),
            disconnected: (e) => revocationState(e, 'disconnected') === 1,
            open: (e) =>
              breaker(e, 'permissions', 'closed') === 0 && breaker(e, 'sessions', 'closed') === 0,
          },
          4000,
          (e) => {
            changeLogLag = Math.max(changeLogLag, e.value('authframework_change_log_lag_seconds')!)
          },
        )
        // a 3 s outage in all, with traffic going on
        await sleep(Math.max(0, 3000 - Math.max(...Object.values(fault))))
        const during = parseExposition(scrape())
        for (const c of COMPONENTS) expect(up(during, c), c).toBe(0)
        expect(revocationState(during, 'disconnected')).toBe(1)
        // PostgreSQL is not what failed: the change log keeps being read, its breaker stays closed
        expect(changeLogLag).toBeLessThan(1)
        expect(during.value('authframework_postgres_breaker_state', { state: 'closed' })).toBe(1)

        proxy.restore()
        const heal = await firstSeen(scrape, healthy, 8000)
        const after = metrics.snapshot().infrastructure
        const missesOf = (snap: typeof after) => [
          snap.permissionsRedis!.subscription!.heartbeatMisses,
          snap.sessionsRedis!.subscription!.heartbeatMisses,
          snap.revocation!.subscription.heartbeatMisses,
        ]
        const misses = missesOf(after).map((n, i) => n - missesOf(before)[i]!)
        const replacedOf = (snap: typeof after) => [
          snap.permissionsRedis!.subscription!.replacedConnections,
          snap.sessionsRedis!.subscription!.replacedConnections,
          snap.revocation!.subscription.replacedConnections,
        ]
        const replaced = replacedOf(after).map((n, i) => n - replacedOf(before)[i]!)
        const lossesOf = (snap: typeof after) => [
          snap.permissionsRedis!.subscription!.losses,
          snap.sessionsRedis!.subscription!.losses,
          snap.revocation!.subscription.losses,
        ]
        const losses = lossesOf(after).map((n, i) => n - lossesOf(before)[i]!)
        console.log(
          `[metrics] Redis ${kind}: subscription_up 0 (all three) after ${ms(fault.down)}, revocation_state disconnected after ${ms(fault.disconnected)}, ` +
            `both Redis breakers open after ${ms(fault.open)}; change_log_lag_seconds at most ${changeLogLag.toFixed(2)}; ` +
            `after the heal: subscription_up 1 after ${ms(heal.subscribed)}, revocation live after ${ms(heal.live)}, ` +
            `breakers closed after ${ms(heal.closed)}; heartbeat misses +${misses.join('/+')} (permissions/sessions/revocation), replaced connections +${replaced.join('/+')}, losses +${losses.join('/+')}`,
        )
        if (kind === 'cut') {
          expect(fault.down).toBeLessThan(1000) // a reset is noticed at once
          expect(misses).toEqual([0, 0, 0])
          expect(replaced).toEqual([0, 0, 0])
        } else {
          expect(fault.down).toBeLessThan(3000) // heartbeat 1000 + deadline 1000, and a busy machine
          for (const m of misses) expect(m).toBeGreaterThanOrEqual(1)
          for (const r of replaced) expect(r).toBeGreaterThanOrEqual(1)
        }
        expect(fault.disconnected).toBeLessThanOrEqual(fault.down + 100)
        expect(losses).toEqual([1, 1, 1])
        expect(heal.subscribed).toBeLessThan(3000)
        expect(heal.live).toBeLessThan(3000)
        // a breaker stays open openMs (5000) from its last failure, then one probe closes it
        expect(heal.closed).toBeLessThan(7000)
      },
    )
  }

  it(
    'the revoking instance cut off from Redis: unpublished 1 and disconnected until published',
    {
      timeout: 30_000,
    },
    async () => {
      const { metrics, revocation } = await instance()
      const scrape = () => prometheusText(metrics)
      await firstSeen(scrape, { live: (e) => revocationState(e, 'live') === 1 }, 5000)
      proxy.blackhole()
      const entry = {
        kind: 'jti' as const,
        jti: `gauges-${randomBytes(6).toString('hex')}`,
        expiresAt: Math.floor(Date.now() / 1000) + 3600,
      }
      await expect(revocation.revoke(entry)).rejects.toMatchObject({ code: 'auth_unavailable' })
      let exposed = parseExposition(scrape())
      expect(exposed.value('authframework_revocation_unpublished')).toBe(1)
      expect(revocationState(exposed, 'disconnected')).toBe(1)
      await sleep(2500)
      exposed = parseExposition(scrape())
      expect(exposed.value('authframework_revocation_unpublished')).toBe(1)
      expect(up(exposed, 'revocation')).toBe(0)

      proxy.restore()
      const heal = await firstSeen(
        scrape,
        {
          published: (e) => e.value('authframework_revocation_unpublished') === 0,
          live: (e) => revocationState(e, 'live') === 1,
        },
        5000,
      )
      console.log(
        `[metrics] revoking instance's Redis black-holed 2.5 s: revocation_unpublished 1 and revocation_state disconnected at once; ` +
          `after the heal: unpublished 0 after ${ms(heal.published)}, live after ${ms(heal.live)}`,
      )
      expect(heal.published).toBeLessThan(3000)
      expect(heal.live).toBeGreaterThanOrEqual(heal.published) // live only once published
    },
  )
})
