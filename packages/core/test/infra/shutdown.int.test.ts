/**
 * The one shutdown: everything closed in the order given, within its deadline even when Redis no
 * longer answers (a black hole), and the Redis client cut so that its socket does not hold the
 * process.
 */

import { connectRedis, endpointOf, REDIS_URL, viaProxy } from '@authframework/test-support/services'
import { startTcpProxy } from '@authframework/test-support/tcp-proxy'
import { describe, expect, it } from 'vitest'
import { shutdown } from '../../src/index.js'

describe('shutdown', () => {
  it('closes in the order given, each kind of resource by its own call', async () => {
    const calls: string[] = []
    const report = await shutdown([
      { close: async () => void calls.push('auth') },
      undefined,
      { end: async () => void calls.push('pool') },
      { quit: async () => void calls.push('redis'), disconnect: () => calls.push('cut') },
    ])
    expect(calls).toEqual(['auth', 'pool', 'redis'])
    expect(report).toEqual({
      clean: true,
      steps: [
        { index: 0, outcome: 'closed' },
        { index: 2, outcome: 'closed' },
        { index: 3, outcome: 'closed' },
      ],
    })
  })

  it('goes on past a step that fails or hangs, and ends within its deadline', async () => {
    const calls: string[] = []
    const start = performance.now()
    const report = await shutdown(
      [
        { close: () => new Promise(() => {}) }, // never settles
        {
          close: () => {
            throw new Error('boom')
          },
        },
        { close: async () => void calls.push('last') },
      ],
      { timeoutMs: 300 },
    )
    expect(performance.now() - start).toBeLessThan(1000)
    expect(calls).toEqual(['last'])
    expect(report.clean).toBe(false)
    expect(report.steps.map((step) => step.outcome)).toEqual(['timeout', 'failed', 'closed'])
  })

  it('cuts a Redis client that does not answer QUIT (black hole) within the deadline', async () => {
    const proxy = await startTcpProxy(endpointOf(REDIS_URL, 6379))
    try {
      const redis = await connectRedis(viaProxy(REDIS_URL, proxy), { commandTimeout: 10_000 })
      proxy.blackhole()
      const start = performance.now()
      const report = await shutdown([redis], { timeoutMs: 500 })
      expect(performance.now() - start).toBeLessThan(2000)
      expect(report.steps).toEqual([{ index: 0, outcome: 'timeout' }])
      // cut, not reconnecting: its socket is gone once the close event has run
      if (redis.status !== 'end')
        await new Promise((resolve) => redis.once('end', resolve as () => void))
      expect(redis.status).toBe('end')
    } finally {
      await proxy.close()
    }
  })
})
