/**
 * What `/metrics` shows while PostgreSQL is cut, stalled or black-holed (TCP proxy in front of the
 * real PostgreSQL): the runner's breaker, its wait queue and the pool, its counters, and the change
 * log's lag, read through the Prometheus text of `metrics.watch` under steady traffic. The runner
 * and the change log keep their defaults (deadline 2000 ms, breaker 3 failures / 500 ms, probe
 * 500 ms, log read every 250 ms); the pool has `max` 6 and the runner `maxWaiting` 12, so that a
 * modest load fills the wait queue.
 */

import { type Exposition, firstSeen, parseExposition } from '@authframework/test-support/exposition'
import { usePostgresFaultFixture } from '@authframework/test-support/fault-fixture'
import { DATABASE_URL, type TestSchema, viaProxy } from '@authframework/test-support/services'
import type { TcpProxy } from '@authframework/test-support/tcp-proxy'
import { beforeAll, describe, expect, it } from 'vitest'
import {
  createChangeLog,
  createMetrics,
  createPostgresPool,
  createPostgresRunner,
  endPostgresPool,
  postgresSource,
  prometheusText,
} from '../../src/index.js'

const MAX = 6
const MAX_WAITING = 12
/** Lookups in flight at most: more than the pool and its wait queue hold. */
const LOAD = 40

const fault = usePostgresFaultFixture({
  seed: {
    roles: { reader: ['orders:read'] },
    users: Array.from({ length: 50 }, (_, i) => ({ id: `u${i}`, roles: ['reader'] })),
  },
})
const { cleanup } = fault
let schema: TestSchema
let proxy: TcpProxy
beforeAll(() => {
  ;({ schema, proxy } = fault.ready())
})

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const ms = (n: number) => `${n.toFixed(0)} ms`
const metric = (e: Exposition, name: string, labels?: Record<string, string>) =>
  e.value(`authframework_${name}`, labels)!

/** A pool through the proxy, its runner, the change log and a permission source, under load. */
async function instance() {
  const pool = createPostgresPool({
    connectionString: viaProxy(DATABASE_URL, proxy),
    max: MAX,
    min: 0,
    options: `-c search_path=${schema.name}`,
  })
  const metrics = createMetrics()
  createPostgresRunner(pool, { maxWaiting: MAX_WAITING, metrics })
  const changes = createChangeLog({ pool, onError: () => {} })
  const source = postgresSource({ pool })
  metrics.watch({ postgres: pool, changes })
  let running = true
  let inFlight = 0
  const traffic = (async () => {
    for (let i = 0; running; i++) {
      for (let k = 0; k < 3 && inFlight < LOAD; k++) {
        inFlight++
        void source
          .lookup(`u${(i * 3 + k) % 50}`)
          .catch(() => {})
          .finally(() => inFlight--)
      }
      await sleep(20)
    }
  })()
  const stop = async () => {
    running = false
    await traffic
  }
  cleanup.push(async () => {
    await stop()
    await changes.close()
    await endPostgresPool(pool, 3000)
  })
  await changes.ready()
  return { metrics, stop }
}

describe('metrics during a PostgreSQL outage', () => {
  for (const kind of ['cut', 'stall', 'blackhole'] as const) {
    it(
      `${kind}: the breaker opens, the wait queue stays bounded, the change log lags; all back after the heal`,
      {
        timeout: 40_000,
      },
      async () => {
        const { metrics, stop } = await instance()
        const scrape = () => prometheusText(metrics)
        const closed = (e: Exposition) =>
          metric(e, 'postgres_breaker_state', { state: 'closed' }) === 1
        await firstSeen(
          scrape,
          { ready: (e) => closed(e) && metric(e, 'change_log_lag_seconds') < 0.5 },
          5000,
        )
        const before = parseExposition(scrape())

        proxy[kind]()
        const most = { waiting: 0, poolWaiting: 0, inFlight: 0, busy: 0, lag: 0 }
        const track = (e: Exposition) => {
          most.waiting = Math.max(most.waiting, metric(e, 'postgres_queries_waiting'))
          most.poolWaiting = Math.max(most.poolWaiting, metric(e, 'postgres_pool_waiting'))
          most.inFlight = Math.max(most.inFlight, metric(e, 'postgres_queries_in_flight'))
          most.busy = Math.max(most.busy, metric(e, 'postgres_pool_connections', { state: 'busy' }))
          most.lag = Math.max(most.lag, metric(e, 'change_log_lag_seconds'))
        }
        const fault = await firstSeen(
          scrape,
          {
            open: (e) => metric(e, 'postgres_breaker_state', { state: 'open' }) === 1,
            lagging: (e) => metric(e, 'change_log_lag_seconds') > 1,
          },
          5000,
          track,
        )
        // a 4 s outage in all, with traffic going on
        const holdUntil = performance.now() + 4000 - Math.max(fault.open, fault.lagging)
        while (performance.now() < holdUntil) {
          track(parseExposition(scrape()))
          await sleep(20)
        }
        const during = parseExposition(scrape())
        const delta = (name: string, labels?: Record<string, string>) =>
          metric(during, name, labels) - metric(before, name, labels)
        const counters = {
          timeouts: delta('postgres_timeouts_total'),
          refusedOpen: delta('postgres_refused_total', { reason: 'open' }),
          refusedBusy: delta('postgres_refused_total', { reason: 'busy' }),
          destroyed: delta('postgres_connections_destroyed_total'),
        }

        proxy.restore()
        const heal = await firstSeen(
          scrape,
          {
            closed,
            lagNearZero: (e) => metric(e, 'change_log_lag_seconds') < 0.5,
            queueEmpty: (e) =>
              metric(e, 'postgres_queries_waiting') === 0 &&
              metric(e, 'postgres_pool_waiting') === 0,
          },
          5000,
        )
        await stop()
        const settled = await firstSeen(
          scrape,
          {
            idle: (e) =>
              metric(e, 'postgres_queries_in_flight') === 0 &&
              metric(e, 'postgres_pool_connections', { state: 'busy' }) === 0,
          },
          5000,
        )
        const after = parseExposition(scrape())
        console.log(
          `[metrics] PostgreSQL ${kind}: breaker open after ${ms(fault.open)}, change_log_lag_seconds over 1 after ${ms(fault.lagging)} ` +
            `(${most.lag.toFixed(2)} s after 4 s); at most ${most.waiting} queries waiting in the runner, ${most.poolWaiting} in the pool, ` +
            `${most.inFlight} in flight, ${most.busy} connections busy; counters during 4 s: timeouts +${counters.timeouts}, refused open +${counters.refusedOpen}, ` +
            `busy +${counters.refusedBusy}, connections destroyed +${counters.destroyed}; after the heal: breaker closed after ${ms(heal.closed)}, ` +
            `lag under 0.5 s after ${ms(heal.lagNearZero)}, wait queues empty after ${ms(heal.queueEmpty)}; ` +
            `idle ${ms(settled.idle)} after the load stopped`,
        )
        expect(fault.open).toBeLessThan(kind === 'cut' ? 1500 : 3500) // 3 failures; a deadline is 2000 ms
        expect(most.lag).toBeGreaterThan(3)
        // the wait queue is bounded: maxWaiting beyond the connections that are free
        expect(most.waiting).toBeLessThanOrEqual(MAX_WAITING + MAX)
        expect(most.poolWaiting).toBeLessThanOrEqual(MAX_WAITING + MAX)
        expect(most.inFlight).toBeLessThanOrEqual(LOAD + 1) // the change log's read
        expect(most.busy).toBeLessThanOrEqual(MAX)
        expect(counters.refusedOpen).toBeGreaterThan(0)
        if (kind === 'cut') expect(counters.timeouts).toBe(0)
        else expect(counters.timeouts).toBeGreaterThanOrEqual(3)
        expect(heal.closed).toBeLessThan(2500)
        expect(heal.lagNearZero).toBeLessThan(3000)
        expect(metric(after, 'postgres_pool_connections', { state: 'idle' })).toBeLessThanOrEqual(
          MAX,
        )
      },
    )
  }
})
