/**
 * The one Redis subscription (infra/subscription.ts) through a TCP proxy: a cut, a stall and a black
 * hole (no reset ever arrives) are each noticed, reported as `lost`, and repaired after `restore()`;
 * the command connection's breaker and forced reconnect (infra/redis.ts) after a black hole.
 */

import {
  connectRedis,
  endpointOf,
  REDIS_URL,
  runId,
  settle,
  viaProxy,
} from '@authframework/test-support/services'
import { startTcpProxy, type TcpProxy } from '@authframework/test-support/tcp-proxy'
import type { Redis } from 'ioredis'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createCircuitBreaker } from '../../src/infra/circuit-breaker.js'
import { createRedisCall, redisReady } from '../../src/infra/redis.js'
import { subscribeChannel } from '../../src/infra/subscription.js'

const prefix = `aftest:${runId()}:`
let direct: Redis
let proxy: TcpProxy
const cleanup: Array<() => unknown> = []

beforeAll(async () => {
  ;[direct, proxy] = await Promise.all([connectRedis(), startTcpProxy(endpointOf(REDIS_URL, 6379))])
})

afterEach(async () => {
  proxy.restore()
  for (const fn of cleanup.splice(0).reverse()) await fn()
})

afterAll(async () => {
  direct?.disconnect()
  await proxy?.close()
})

/** Polls `check` (yielding to I/O) until true; resolves the elapsed ms. */
async function until(check: () => boolean | Promise<boolean>, timeoutMs = 8000): Promise<number> {
  const start = performance.now()
  for (;;) {
    if (await check()) return performance.now() - start
    if (performance.now() - start > timeoutMs) throw new Error(`not true within ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

async function proxiedClient(): Promise<Redis> {
  const client = await connectRedis(viaProxy(REDIS_URL, proxy))
  cleanup.push(() => client.disconnect())
  return client
}

function watch(client: Redis, channel: string) {
  const events: string[] = []
  const messages: string[] = []
  const sub = subscribeChannel(client, channel, undefined, {
    message: (text) => messages.push(text),
    subscribed: (first) => events.push(first ? 'subscribed' : 'resubscribed'),
    lost: () => events.push('lost'),
  })
  cleanup.push(() => sub.close())
  return { sub, events, messages }
}

/** Publishes until the subscriber has the message (a fresh one each time); resolves the ms. */
async function delivered(channel: string, messages: string[]): Promise<number> {
  const start = performance.now()
  let n = 0
  await until(async () => {
    const text = `m${n++}`
    await direct.publish(channel, text)
    await new Promise((resolve) => setTimeout(resolve, 20))
    return messages.includes(text)
  })
  return performance.now() - start
}

describe('the subscription notices every kind of outage', () => {
  for (const fault of ['cut', 'stall', 'blackhole'] as const) {
    it(`${fault}: reported lost within heartbeat interval + deadline, live again after restore`, async () => {
      const channel = `${prefix}${fault}`
      const client = await proxiedClient()
      const { sub, events, messages } = watch(client, channel)
      await sub.ready()
      expect(sub.status).toMatchObject({ state: 'live', losses: 0 })

      proxy[fault]()
      const faultAt = performance.now()
      const detectedMs = await until(() => events.includes('lost'))
      expect(sub.live).toBe(false)
      expect(sub.status.state).toBe('lost')
      // heartbeat every 1000 ms, answered within 1000 ms (a cut is seen at once)
      expect(detectedMs).toBeLessThan(3000)
      if (fault !== 'cut') expect(sub.status.heartbeatMisses).toBeGreaterThanOrEqual(1)
      // stays down while the fault lasts (the replacement connections stall too)
      await new Promise((resolve) => setTimeout(resolve, 2500 - (performance.now() - faultAt)))
      expect(sub.live).toBe(false)

      proxy.restore()
      const restoredAt = performance.now()
      await until(() => sub.live)
      const recoveredMs = performance.now() - restoredAt
      expect(events.at(-1)).toBe('resubscribed')
      const propagationMs = await delivered(channel, messages)
      console.log(
        `[subscription] ${fault}: lost after ${detectedMs.toFixed(0)} ms, live ${recoveredMs.toFixed(0)} ms after restore, a message then took ${propagationMs.toFixed(0)} ms`,
      )
      expect(recoveredMs).toBeLessThan(3000)
      expect(propagationMs).toBeLessThan(500)
      expect(sub.status.losses).toBe(1)
    })
  }

  it('a black hole that outlasts several heartbeats is repaired without a restart', async () => {
    const channel = `${prefix}long`
    const client = await proxiedClient()
    const { sub, messages } = watch(client, channel)
    await sub.ready()
    proxy.blackhole()
    await until(() => !sub.live)
    await new Promise((resolve) => setTimeout(resolve, 3000))
    expect(sub.live).toBe(false)
    proxy.restore()
    await until(() => sub.live, 4000)
    expect(await delivered(channel, messages)).toBeLessThan(500)
    expect(sub.status.replacedConnections).toBeGreaterThanOrEqual(1)
  })

  it('close() ends it for good', async () => {
    const client = await proxiedClient()
    const { sub, events } = watch(client, `${prefix}closed`)
    await sub.ready()
    sub.close()
    expect(sub.status.state).toBe('closed')
    proxy.cut()
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(events).toEqual(['subscribed'])
  })

  it('checks its options', () => {
    expect(() =>
      subscribeChannel(direct, 'x', { heartbeatIntervalMs: 0 }, { message() {}, subscribed() {} }),
    ).toThrow(/heartbeatIntervalMs must be a positive number/)
    expect(() =>
      subscribeChannel(direct, 'x', { heartbeatTimeoutMs: -1 }, { message() {}, subscribed() {} }),
    ).toThrow(/heartbeatTimeoutMs/)
  })
})

describe('the command connection', () => {
  it('after a black hole: the stalled connection is replaced and the first probe after restore closes the breaker', async () => {
    const client = await proxiedClient()
    const breaker = createCircuitBreaker({ failureThreshold: 3, openMs: 500 })
    const call = createRedisCall(client, breaker, 250)
    const key = `${prefix}cmd`
    await direct.set(key, 'v')
    expect(await call('GET', () => client.get(key))).toBe('v')

    proxy.blackhole()
    for (let i = 0; i < 3; i++) await settle(call('GET', () => client.get(key)))
    expect(breaker.state).toBe('open')
    // the timeouts opened the breaker: the stalled connection is torn down (ioredis reconnects)
    await until(() => client.status !== 'ready')
    // while the client has not reconnected, a half-open breaker keeps its probe
    await until(() => breaker.state === 'half-open')
    const refused = await settle(call('GET', () => client.get(key)))
    expect(refused.ok).toBe(false)
    expect(breaker.state).toBe('half-open')

    proxy.restore()
    const restoredAt = performance.now()
    await redisReady(client)
    // the probe goes to the reconnected client and closes the breaker at once
    expect(await call('GET', () => client.get(key))).toBe('v')
    expect(breaker.state).toBe('closed')
    const ms = performance.now() - restoredAt
    console.log(`[redis] black hole healed -> commands answered again after ${ms.toFixed(0)} ms`)
    expect(ms).toBeLessThan(2500)
    // replies match their commands (a connection that lost bytes would answer out of turn)
    const values = await Promise.all(
      ['a', 'b', 'c'].map(async (v) => {
        await direct.set(`${key}:${v}`, v)
        return call('GET', () => client.get(`${key}:${v}`))
      }),
    )
    expect(values).toEqual(['a', 'b', 'c'])
    await direct.del(key, `${key}:a`, `${key}:b`, `${key}:c`)
  })

  it('redisReady waits for the command connection', async () => {
    const client = await proxiedClient()
    proxy.cut()
    await until(() => client.status !== 'ready')
    let ready = false
    const waiting = redisReady(client).then(() => {
      ready = true
    })
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(ready).toBe(false)
    proxy.restore()
    await waiting
    expect(client.status).toBe('ready')
  })
})
