/**
 * The guarded PostgreSQL runner against the real database behind a TCP proxy that stalls (holds
 * bytes) or black-holes (drops bytes both ways, no resets) the connections: deadlines, the bounded
 * wait queue, the breaker, recovery after the network heals, no leaked connections, a bounded
 * `pool.end()`; and what sits on it: the session store's `create` and the audit sink.
 */

import { usePostgresFaultFixture } from '@authframework/test-support/fault-fixture'
import {
  DATABASE_URL,
  settle,
  type TestSchema,
  timed,
  viaProxy,
} from '@authframework/test-support/services'
import type { TcpProxy } from '@authframework/test-support/tcp-proxy'
import { beforeAll, describe, expect, it } from 'vitest'
import { AuthUnavailableError } from '../../src/errors.js'
import {
  CircuitOpenError,
  createAuditSink,
  createMetrics,
  createPostgresPool,
  createPostgresRunner,
  createSessionStore,
  endPostgresPool,
  PostgresBusyError,
  PostgresCommitUnknownError,
  type PostgresPool,
  type PostgresRunner,
  postgresSessionSource,
  postgresSource,
} from '../../src/index.js'

const TIMEOUT_MS = 500
const MAX = 6
const MAX_WAITING = 12
/** Slack on a 2-core machine running the rest of the suite. */
const SLACK_MS = 400

const fault = usePostgresFaultFixture({
  seed: {
    roles: { reader: ['orders:read'] },
    users: Array.from({ length: 200 }, (_, i) => ({ id: `u${i}`, roles: ['reader'] })),
  },
})
const { cleanup } = fault
let schema: TestSchema
let proxy: TcpProxy
beforeAll(() => {
  ;({ schema, proxy } = fault.ready())
})

/** A pool through the proxy, its runner, and a permission source on it. */
function build(name: string, runnerOptions: Parameters<typeof createPostgresRunner>[1] = {}) {
  const pool = createPostgresPool({
    connectionString: viaProxy(DATABASE_URL, proxy),
    max: MAX,
    min: 0,
    connectionTimeoutMillis: 1000,
    application_name: name,
    options: `-c search_path=${schema.name}`,
  })
  const metrics = createMetrics()
  const runner = createPostgresRunner(pool, {
    timeoutMs: TIMEOUT_MS,
    maxWaiting: MAX_WAITING,
    breaker: { failureThreshold: 3, openMs: 300 },
    probeTimeoutMs: 300,
    metrics,
    ...runnerOptions,
  })
  const source = postgresSource({ pool, timeoutMs: TIMEOUT_MS })
  let ended = false
  cleanup.push(async () => {
    if (!ended && !(pool as unknown as { ending: boolean }).ending)
      await endPostgresPool(pool, 3000)
  })
  return {
    pool,
    runner,
    metrics,
    source,
    end: async () => {
      ended = true
      return timed(() => endPostgresPool(pool, 3000))
    },
  }
}

/** Lookups until one succeeds; resolves the milliseconds it took. Every failure must be a 503. */
async function untilLookupSucceeds(
  source: ReturnType<typeof postgresSource>,
  boundMs: number,
): Promise<{ ms: number; failures: number }> {
  const start = performance.now()
  let failures = 0
  for (let i = 0; ; i++) {
    const outcome = await settle(source.lookup(`u${i % 200}`))
    if (outcome.ok) return { ms: performance.now() - start, failures }
    expect(outcome.error).toBeInstanceOf(AuthUnavailableError)
    expect(outcome.error).toMatchObject({ status: 503, code: 'auth_unavailable' })
    failures++
    if (performance.now() - start > boundMs)
      throw new Error(`no lookup succeeded within ${boundMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

/** Waits until the pool holds no checked-out client and nothing waits (connections are idle or gone). */
async function expectPoolSettled(pool: PostgresPool, runner: PostgresRunner) {
  await expect
    .poll(
      () => ({
        waiting: pool.waitingCount,
        busy: pool.totalCount - pool.idleCount,
        active: runner.stats().active,
      }),
      { timeout: 5000, interval: 20 },
    )
    .toEqual({ waiting: 0, busy: 0, active: 0 })
  expect(pool.totalCount).toBeLessThanOrEqual(MAX)
}

/** Fires `count` lookups at once; resolves each outcome with its duration. */
function burst(source: ReturnType<typeof postgresSource>, count: number, from = 0) {
  return Promise.all(
    Array.from({ length: count }, (_, i) =>
      timed(() => settle(source.lookup(`u${(from + i) % 200}`))),
    ),
  )
}

describe.each(['blackhole', 'stall'] as const)('PostgreSQL %s', (fault) => {
  it('fails within the deadline with 503, refuses waiters beyond the limit at once, opens the breaker, and recovers within 2 s of healing', async () => {
    const { pool, runner, metrics, source, end } = build(`af_${fault}`)
    // warm: every connection opened, so the fault catches them idle
    const warm = await burst(source, MAX)
    expect(warm.every(({ result }) => result.ok)).toBe(true)

    proxy[fault]()
    const outcomes = await burst(source, MAX + MAX_WAITING + 20, 10)
    const waitedMost = Math.max(...outcomes.map(({ ms }) => ms))
    for (const { result } of outcomes) {
      expect(result.ok).toBe(false)
      const error = !result.ok ? result.error : undefined
      expect(error).toBeInstanceOf(AuthUnavailableError)
      expect(error).toMatchObject({ status: 503, code: 'auth_unavailable' })
    }
    const busy = outcomes.filter(
      ({ result }) => !result.ok && (result.error as Error).cause instanceof PostgresBusyError,
    )
    // beyond MAX running and MAX_WAITING waiting, the rest were refused without waiting
    expect(busy.length).toBeGreaterThanOrEqual(20)
    expect(Math.max(...busy.map(({ ms }) => ms))).toBeLessThan(SLACK_MS)
    expect(waitedMost).toBeLessThan(TIMEOUT_MS + SLACK_MS)
    expect(pool.waitingCount).toBeLessThanOrEqual(MAX_WAITING)

    // the timeouts opened the breaker: the next lookup fails at once. The wait-queue check comes
    // first, and checkouts given up on still count as waiting until the pool settles them (its
    // connectionTimeoutMillis), so the refusal names either cause; both answer without waiting.
    expect(runner.stats().breaker).toBe('open')
    const fast = await timed(() => settle(source.lookup('u150')))
    const refusal = !fast.result.ok && (fast.result.error as Error).cause
    expect(refusal instanceof CircuitOpenError || refusal instanceof PostgresBusyError).toBe(true)
    expect(fast.ms).toBeLessThan(50)

    // keep the fault on for a while under steady load, as in production
    const stopAt = performance.now() + 1500
    let during = 0
    while (performance.now() < stopAt) {
      const outcome = await settle(source.lookup(`u${during % 200}`))
      expect(outcome.ok).toBe(false)
      expect(!outcome.ok && outcome.error).toBeInstanceOf(AuthUnavailableError)
      during++
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
    expect(pool.waitingCount).toBeLessThanOrEqual(MAX_WAITING)

    proxy.restore()
    const recovery = await untilLookupSucceeds(source, 2000)
    const stats = runner.stats()
    console.log(
      `[postgres ${fault}] ${outcomes.length} lookups at once: ${busy.length} refused at once (wait queue full), ` +
        `slowest ${waitedMost.toFixed(0)} ms (deadline ${TIMEOUT_MS}); ${during} lookups during the fault; ` +
        `first success ${recovery.ms.toFixed(0)} ms after healing; timeouts ${stats.timeouts}, destroyed ${stats.destroyed}, ` +
        `refused busy ${stats.refusedBusy} / open ${stats.refusedOpen}; infrastructureErrors.postgres ${metrics.snapshot().infrastructureErrors.postgres}`,
    )
    expect(recovery.ms).toBeLessThan(2000)
    expect(runner.stats().breaker).toBe('closed')
    const after = await burst(source, 2 * MAX)
    expect(
      after
        .filter(({ result }) => !result.ok)
        .map(({ result }) => !result.ok && String((result.error as Error).cause)),
    ).toEqual([])

    await expectPoolSettled(pool, runner)
    const ended = await end()
    expect(ended.result).toBe(true) // ended by itself, nothing forced
    expect(ended.ms).toBeLessThan(1000)
    expect(pool.totalCount).toBe(0)
  })
})

describe('PostgreSQL connections reset while held', () => {
  it('fails the queries in flight (the process survives the socket errors), destroys the connections, and recovers', async () => {
    const { pool, runner } = build('af_reset')
    const holding = Array.from({ length: MAX }, () =>
      settle(runner.query({ text: 'SELECT pg_sleep(2)' }, { timeoutMs: 5000 })),
    )
    const observer = schema.pool({ max: 1 })
    await expect
      .poll(async () => {
        const { rows } = await observer.query(
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'af_reset' AND query LIKE '%pg_sleep%' AND state = 'active'",
        )
        return rows[0].n
      })
      .toBe(MAX) // every query runs on a held connection
    proxy.cut() // resets every connection: each held client emits 'error'
    for (const outcome of await Promise.all(holding)) {
      expect(outcome.ok).toBe(false)
      if (!outcome.ok) expect(outcome.error).toBeInstanceOf(Error)
    }
    expect(runner.stats().destroyed).toBe(MAX)
    proxy.restore()
    await expect
      .poll(async () => (await settle(runner.query({ text: 'SELECT 1' }))).ok, { timeout: 3000 })
      .toBe(true)
    await expectPoolSettled(pool, runner)
  })
})

describe('PostgreSQL cut with queries in flight', () => {
  it('fails them with 503 and does not crash the process (a reset is an error event on a checked-out connection)', async () => {
    const { pool, runner, source } = build('af_cut')
    expect((await burst(source, MAX)).every(({ result }) => result.ok)).toBe(true)
    const uncaught: unknown[] = []
    const onUncaught = (error: unknown) => uncaught.push(error)
    process.on('uncaughtException', onUncaught)
    try {
      proxy.stall()
      const stuck = burst(source, MAX)
      await expect.poll(() => pool.totalCount - pool.idleCount).toBe(MAX) // all checked out
      proxy.cut() // every connection reset while its query waits for an answer
      const outcomes = await stuck
      for (const { result, ms } of outcomes) {
        expect(!result.ok && result.error).toBeInstanceOf(AuthUnavailableError)
        expect(ms).toBeLessThan(TIMEOUT_MS + SLACK_MS)
      }
      await new Promise((resolve) => setTimeout(resolve, 50)) // errors emitted after the queries failed
      expect(uncaught).toEqual([])
      proxy.restore()
      await untilLookupSucceeds(source, 2000)
      await expectPoolSettled(pool, runner)
    } finally {
      process.off('uncaughtException', onUncaught)
    }
  })
})

describe('pool.end() and the breaker', () => {
  it('pool.end() completes within a bound while a black hole holds queries', async () => {
    const { pool, source } = build('af_end')
    expect((await burst(source, MAX)).every(({ result }) => result.ok)).toBe(true)
    proxy.blackhole()
    const stuck = burst(source, MAX)
    await expect.poll(() => pool.totalCount - pool.idleCount).toBe(MAX) // all checked out
    const { ms } = await timed(() => pool.end())
    console.log(`[postgres end] pool.end() during a black hole resolved in ${ms.toFixed(0)} ms`)
    expect(ms).toBeLessThan(TIMEOUT_MS + SLACK_MS)
    for (const { result } of await stuck) expect(result.ok).toBe(false)
    expect(pool.totalCount).toBe(0)
  })

  it('one probe at a time when half-open; the probe closes the breaker after healing', async () => {
    const { runner, source, pool } = build('af_probe', {
      breaker: { failureThreshold: 2, openMs: 200 },
    })
    expect((await settle(source.lookup('u1'))).ok).toBe(true)
    proxy.blackhole()
    await burst(source, 2)
    expect(runner.stats().breaker).toBe('open')
    await expect.poll(() => runner.stats().breaker, { interval: 20 }).toBe('half-open')
    // half-open, network still dark: one probe goes, the others are refused at once
    const probing = burst(source, 5)
    const outcomes = await probing
    const refused = outcomes.filter(
      ({ result }) => !result.ok && (result.error as Error).cause instanceof CircuitOpenError,
    )
    expect(refused.length).toBe(4)
    expect(runner.stats().breaker).toBe('open') // the probe failed
    proxy.restore()
    await expect.poll(() => runner.stats().breaker, { interval: 20 }).toBe('half-open')
    expect((await settle(source.lookup('u2'))).ok).toBe(true)
    expect(runner.stats().breaker).toBe('closed')
    await expectPoolSettled(pool, runner)
  })
})

describe('sessions.create during a stall', () => {
  it('rejects with 503 and leaves no row behind after the network is back', async () => {
    const { pool } = build('af_sessions')
    const sessions = createSessionStore({
      layers: [],
      source: postgresSessionSource({ pool, timeoutMs: TIMEOUT_MS }),
    })
    cleanup.push(() => sessions.close())
    const direct = schema.pool({ max: 1 })
    const count = async (userId: string) =>
      Number(
        (await direct.query('SELECT count(*)::int AS n FROM sessions WHERE user_id = $1', [userId]))
          .rows[0].n,
      )
    expect((await sessions.create('u7')).userId).toBe('u7') // the path works

    proxy.stall()
    const { ms, result } = await timed(() => settle(sessions.create('u8')))
    expect(result.ok).toBe(false)
    expect(!result.ok && result.error).toBeInstanceOf(AuthUnavailableError)
    expect(!result.ok && result.error).toMatchObject({ status: 503, code: 'auth_unavailable' })
    expect(ms).toBeLessThan(TIMEOUT_MS + SLACK_MS)
    proxy.restore()

    // nothing of this pool's connections is still at work on the server: a late COMMIT would show
    await expect
      .poll(
        async () =>
          (
            await direct.query(
              `SELECT count(*)::int AS n FROM pg_stat_activity
               WHERE application_name = 'af_sessions' AND state <> 'idle'`,
            )
          ).rows[0].n,
        { timeout: 5000, interval: 50 },
      )
      .toBe(0)
    expect(await count('u8')).toBe(0)
    // and the store works again
    await expect
      .poll(async () => (await settle(sessions.create('u9'))).ok, { timeout: 2000, interval: 50 })
      .toBe(true)
    expect(await count('u9')).toBeGreaterThanOrEqual(1)
  })
})

describe('sessions.create when COMMIT outlives the deadline', () => {
  it('rejects with 503, and the row that committed after all is deleted once the outcome is settled', async () => {
    const direct = schema.pool({ max: 1 })
    // a real slow COMMIT: a deferred constraint trigger that sleeps at commit time, for one user
    await direct.query(`CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.user_id = 'u20' THEN PERFORM pg_sleep(0.7); END IF; RETURN NULL; END $$`)
    await direct.query(`CREATE CONSTRAINT TRIGGER slow_commit AFTER INSERT ON sessions
      DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION slow_commit()`)
    cleanup.push(() => direct.query('DROP TRIGGER slow_commit ON sessions'))
    const count = async () =>
      Number(
        (await direct.query("SELECT count(*)::int AS n FROM sessions WHERE user_id = 'u20'"))
          .rows[0].n,
      )
    const { pool } = build('af_commit')
    // deadline 500 ms; statement_timeout 1000 ms lets the 700 ms COMMIT finish on the server
    const sessions = createSessionStore({
      layers: [],
      source: postgresSessionSource({ pool, timeoutMs: TIMEOUT_MS }),
    })
    cleanup.push(() => sessions.close())

    const { ms, result } = await timed(() => settle(sessions.create('u20')))
    expect(!result.ok && result.error).toMatchObject({ status: 503, code: 'auth_unavailable' })
    expect(!result.ok && (result.error as Error).cause).toBeInstanceOf(PostgresCommitUnknownError)
    expect(ms).toBeLessThan(TIMEOUT_MS + SLACK_MS)
    // the COMMIT went through on the server after the deadline: an orphan, for a while
    await expect.poll(count, { timeout: 3000, interval: 20 }).toBe(1)
    // the compensating delete removes it once the server's timeouts have settled the outcome
    const removed = await timed(() => expect.poll(count, { timeout: 6000, interval: 50 }).toBe(0))
    console.log(
      `[sessions] COMMIT past the deadline: create() rejected after ${ms.toFixed(0)} ms; the orphan row was deleted ${removed.ms.toFixed(0)} ms after it was seen`,
    )
  })
})

describe('audit sink', () => {
  it('a stuck write is dropped and counted; later writes go on; close() is bounded during a black hole', async () => {
    const { pool } = build('af_audit')
    const direct = schema.pool({ max: 1 })
    const errors: unknown[] = []
    const audit = createAuditSink({
      pool,
      timeoutMs: TIMEOUT_MS,
      flushIntervalMs: 60_000,
      closeTimeoutMs: 1000,
      onError: (error) => errors.push(error),
    })
    const rows = async (event: string) =>
      (await direct.query('SELECT 1 FROM audit_log WHERE event_type = $1', [event])).rowCount

    audit.warn({ event: 'before_fault' })
    await audit.flush()
    expect(await rows('before_fault')).toBe(1)

    proxy.blackhole()
    audit.warn({ event: 'stuck' })
    const stuck = await timed(() => audit.flush())
    expect(stuck.ms).toBeLessThan(TIMEOUT_MS + SLACK_MS)
    expect(audit.dropped).toBe(1)
    expect(errors.length).toBe(1)
    proxy.restore()

    // later writes go on (the breaker may need one probe first)
    await expect
      .poll(
        async () => {
          audit.warn({ event: 'after_fault' })
          await audit.flush()
          return rows('after_fault')
        },
        { timeout: 2000, interval: 50 },
      )
      .toBeGreaterThanOrEqual(1)
    expect(await rows('stuck')).toBe(0)

    proxy.blackhole()
    audit.warn({ event: 'at_close' })
    const closing = await timed(() => audit.close())
    console.log(`[audit] close() during a black hole resolved in ${closing.ms.toFixed(0)} ms`)
    expect(closing.ms).toBeLessThan(1000 + SLACK_MS)
    expect(audit.pending).toBe(0)
  })
})
