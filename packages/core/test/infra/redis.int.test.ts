/**
 * The guarded Redis calls against a real Redis behind a TCP proxy: a write given up at its
 * deadline while its connection is down is not sent again once the client reconnects. (Bytes that
 * already left this machine may still arrive late after a stall; the change log's versions keep
 * such a copy from being served.)
 */

import {
  connectRedis,
  endpointOf,
  REDIS_URL,
  runId,
  viaProxy,
} from '@authframework/test-support/services'
import { startTcpProxy, type TcpProxy } from '@authframework/test-support/tcp-proxy'
import type { Redis, RedisOptions } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createCircuitBreaker } from '../../src/infra/circuit-breaker.js'
import { createRedisCall, isTimeout, redisReady } from '../../src/infra/redis.js'

const prefix = `aftest:${runId()}:redis:`
let proxy: TcpProxy
let direct: Redis
const clients: Redis[] = []

beforeAll(async () => {
  ;[proxy, direct] = await Promise.all([startTcpProxy(endpointOf(REDIS_URL, 6379)), connectRedis()])
})

afterAll(async () => {
  for (const client of clients) client.disconnect()
  const keys = await direct.keys(`${prefix}*`)
  if (keys.length > 0) await direct.del(...keys)
  direct.disconnect()
  await proxy?.close()
})

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Retries PING until the client answers through its new connection. */
async function untilAnswers(client: Redis): Promise<void> {
  const start = performance.now()
  for (;;) {
    await redisReady(client)
    if ((await client.ping().catch(() => undefined)) === 'PONG') return
    if (performance.now() - start > 5000) throw new Error('the client never answered again')
    await sleep(20)
  }
}

async function viaTheProxy(options: RedisOptions): Promise<Redis> {
  proxy.restore()
  const client = await connectRedis(viaProxy(REDIS_URL, proxy), options)
  clients.push(client)
  return client
}

describe('a write given up at its deadline', () => {
  it('is not sent again after its connection was reset and the client reconnected', async () => {
    // ioredis' defaults: commands in flight at a reset are kept and sent again after reconnecting
    const client = await viaTheProxy({ maxRetriesPerRequest: 20, commandTimeout: undefined })
    const key = `${prefix}${runId()}`
    const call = createRedisCall(client, createCircuitBreaker(), 300)
    proxy.stall() // the SET leaves the client and is held on the way
    const write = call('SET', () => client.set(key, 'late'), 300, true)
    await sleep(50)
    proxy.cut() // the SET is unanswered: ioredis keeps it to send again
    const error = await write.then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(isTimeout(error)).toBe(true)
    expect(client.status).not.toBe('ready')
    proxy.restore()
    await untilAnswers(client)
    await sleep(200)
    expect(await direct.get(key)).toBeNull()
  })
})
