import { useRedisFaultFixture } from '@authframework/test-support/fault-fixture'
import { REDIS_URL, viaProxy } from '@authframework/test-support/services'
import type { TcpProxy } from '@authframework/test-support/tcp-proxy'
import type pg from 'pg'
import { beforeAll, describe, expect, it } from 'vitest'
import type { AuthError } from '../../src/index.js'
import { codeOf, type Instance, signer, startInstance, until } from './setup.js'

let a: Instance

// cleanup[0] is the healthy instance, kept for the whole file
const fault = useRedisFaultFixture({ poolMax: 4, keep: 1 })
const { prefix, cleanup } = fault
let pool: pg.Pool, proxy: TcpProxy
beforeAll(async () => {
  ;({ pool, proxy } = fault.ready())
  // the healthy instance; no periodic re-read, so what it learns comes from pub/sub
  a = await startInstance(pool, prefix, cleanup, { syncIntervalMs: false })
})

/** An instance whose Redis goes through the proxy (heartbeat and outage polling at their defaults). */
function stalledInstance(options: Parameters<typeof startInstance>[3] = {}): Promise<Instance> {
  return startInstance(pool, prefix, cleanup, {
    url: viaProxy(REDIS_URL, proxy),
    syncIntervalMs: false,
    onError: () => {},
    ...options,
  })
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe('a stalled or black-holed Redis under a local-mode instance', () => {
  for (const fault of ['stall', 'blackhole'] as const) {
    it(`${fault}: goes disconnected, refuses a revocation made elsewhere via PostgreSQL, then is live again`, async () => {
      const b = await stalledInstance()
      const token = signer.sign({ sub: `during-${fault}` })
      expect(await codeOf(b.auth.verify(token))).toBe('ok')
      expect(b.list.state).toBe('live')

      proxy[fault]()
      const faultAt = performance.now()
      await a.auth.revoke({ token })
      const revokedAt = performance.now()
      await until(async () => b.list.state === 'disconnected', 5000)
      const detectedMs = performance.now() - faultAt
      const refusedMs = await until(
        async () => (await codeOf(b.auth.verify(token))) === 'token_revoked',
        5000,
      )
      const sinceRevokeMs = performance.now() - revokedAt
      expect(b.list.subscription.heartbeatMisses).toBeGreaterThanOrEqual(1)
      console.log(
        `[revocation] Redis ${fault}: disconnected after ${detectedMs.toFixed(0)} ms; a revocation made on a healthy instance refused ${sinceRevokeMs.toFixed(0)} ms after it (${refusedMs.toFixed(0)} ms after the stall was noticed)`,
      )
      // heartbeat 1000 + deadline 1000, then a PostgreSQL read at once (and every 1000 ms)
      expect(detectedMs).toBeLessThan(3000)
      expect(refusedMs).toBeLessThan(1500)

      // a 3 s outage in all
      await sleep(3000 - (performance.now() - faultAt))
      expect(b.list.state).toBe('disconnected')
      proxy.restore()
      const restoredAt = performance.now()
      await until(async () => b.list.state === 'live', 5000)
      const liveMs = performance.now() - restoredAt

      // live propagation again, through pub/sub (b does not poll while live)
      const next = signer.sign({ sub: `after-${fault}` })
      expect(await codeOf(b.auth.verify(next))).toBe('ok')
      const start = performance.now()
      await a.auth.revoke({ token: next })
      await until(async () => (await codeOf(b.auth.verify(next))) === 'token_revoked', 2000)
      const propagationMs = performance.now() - start
      console.log(
        `[revocation] Redis ${fault} healed: live again after ${liveMs.toFixed(0)} ms; the next revocation propagated in ${propagationMs.toFixed(1)} ms`,
      )
      expect(liveMs).toBeLessThan(3000)
      expect(propagationMs).toBeLessThan(500)
    })
  }

  it("a revocation made on the stalled instance: reported, 'disconnected' until published, then reaches the others", async () => {
    const b = await stalledInstance({ outageSyncIntervalMs: false })
    const token = signer.sign({ sub: 'revoked-while-stalled' })
    expect(await codeOf(a.auth.verify(token))).toBe('ok')

    proxy.blackhole()
    const error = (await b.auth.revoke({ token }).catch((e) => e)) as AuthError
    expect(error.code).toBe('auth_unavailable')
    expect(error.message).not.toContain(token)
    // not "live": this instance could not publish
    expect(b.list.state).toBe('disconnected')
    expect(b.list.unpublished).toBe(1)
    expect(await codeOf(b.auth.verify(token))).toBe('token_revoked')
    // the outbox keeps retrying (and timing out) while the black hole lasts
    await sleep(2500)
    expect(b.list.unpublished).toBe(1)

    proxy.restore()
    const restoredAt = performance.now()
    await until(async () => (await codeOf(a.auth.verify(token))) === 'token_revoked', 5000)
    const ms = performance.now() - restoredAt
    console.log(
      `[revocation] revoker's Redis black-holed 2.5 s -> queued revocation published ${ms.toFixed(0)} ms after the heal`,
    )
    expect(ms).toBeLessThan(3000)
    await until(async () => b.list.state === 'live', 5000)
    expect(b.list.unpublished).toBe(0)
  })
})

describe('strict mode under a stall', () => {
  it('answers from PostgreSQL within the deadline (a revocation made elsewhere is refused), and asks Redis again after the heal', async () => {
    const s = await stalledInstance({
      mode: 'strict',
      breaker: { failureThreshold: 2, openMs: 200 },
    })
    const fine = signer.sign({ sub: 'strict-stall' })
    const revoked = signer.sign({ sub: 'strict-stall-revoked' })
    for (const token of [fine, revoked]) expect(await codeOf(s.auth.verify(token))).toBe('ok')
    proxy.stall()
    await a.auth.revoke({ token: revoked })
    for (let i = 0; i < 4; i++) {
      const started = performance.now()
      expect(await codeOf(s.auth.verify(revoked))).toBe('token_revoked')
      expect(await codeOf(s.auth.verify(fine))).toBe('ok')
      // the Redis deadline (250 ms) at most, then PostgreSQL
      expect(performance.now() - started).toBeLessThan(1500)
    }
    proxy.restore()
    // the instance's own client answers again (it was torn down and reconnected)
    const probe = s.list.keyOf({ kind: 'jti', jti: 'probe', expiresAt: 0 })
    const ms = await until(async () => {
      const redisAnswers = await s.redis.get(probe).then(
        () => true,
        () => false,
      )
      return redisAnswers && (await codeOf(s.auth.verify(fine))) === 'ok'
    }, 5000)
    expect(await codeOf(s.auth.verify(revoked))).toBe('token_revoked')
    console.log(
      `[revocation] strict mode: stall healed -> Redis answers again after ${ms.toFixed(0)} ms`,
    )
    expect(ms).toBeLessThan(3000)
  })
})
