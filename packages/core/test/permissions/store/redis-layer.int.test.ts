/** redisLayer() against the machine's Redis, under a key prefix of its own. */

import {
  connectRedis,
  countRedisCommands,
  deleteKeys,
  mgetCount,
  runId,
} from '@authframework/test-support/services'
import type { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { redisLayer } from '../../../src/permissions/store/index.js'

const prefix = `aftest:${runId()}:`
let redis: Redis
const record = { permissions: ['orders:read'], roles: ['clerk'] }

beforeAll(async () => {
  redis = await connectRedis()
})

afterAll(async () => {
  if (!redis) return
  await deleteKeys(redis, prefix)
  redis.disconnect()
})

describe('redisLayer', () => {
  it('writes compact JSON with SET ... EX (records and negative entries), pipelined', async () => {
    const layer = redisLayer({
      client: redis,
      keyPrefix: prefix,
      ttlSeconds: 1800,
      negativeTtlSeconds: 30,
      subscribe: false,
    })
    const counter = countRedisCommands(redis)
    await layer.setMany([
      ['u1', record],
      ['ghost', null],
    ])
    expect(counter.get('set')).toBe(2)
    expect(counter.pipelined.get('set')).toBe(2)
    expect(await redis.get(layer.keyOf('u1'))).toBe('{"p":["orders:read"],"r":["clerk"]}')
    expect(await redis.get(layer.keyOf('ghost'))).toBe('null')
    const [ttl, negativeTtl] = await Promise.all([
      redis.ttl(layer.keyOf('u1')),
      redis.ttl(layer.keyOf('ghost')),
    ])
    expect(ttl).toBeGreaterThan(1790)
    expect(ttl).toBeLessThanOrEqual(1800)
    expect(negativeTtl).toBeGreaterThan(20)
    expect(negativeTtl).toBeLessThanOrEqual(30)
  })

  it('reads many users with one MGET and one user with one GET', async () => {
    const layer = redisLayer({ client: redis, keyPrefix: prefix, subscribe: false })
    await layer.setMany([
      ['a', record],
      ['b', null],
    ])
    // one MGET on a single Redis; on a Cluster one per slot (in one pipeline per node)
    const mgets = await mgetCount(redis, ['a', 'b', 'missing'].map(layer.keyOf))
    const counter = countRedisCommands(redis)
    expect(await layer.getMany(['a', 'b', 'missing'])).toEqual([record, null, undefined])
    expect(await layer.getMany(['a'])).toEqual([record])
    expect([...counter.counts]).toEqual([
      ['mget', mgets],
      ['get', 1],
    ])
  })

  it('treats a malformed value as a miss', async () => {
    const layer = redisLayer({ client: redis, keyPrefix: prefix, subscribe: false })
    for (const [i, raw] of ['not json', '{"p":"*"}', '["*"]', '{"p":[1]}', ''].entries()) {
      await redis.set(layer.keyOf(`bad-${i}`), raw)
      expect(await layer.get(`bad-${i}`), raw).toBeUndefined()
    }
  })

  it('keeps ids apart whatever they contain (no key injection, no collision)', async () => {
    const layer = redisLayer({ client: redis, keyPrefix: prefix, subscribe: false })
    const ids = [
      '*',
      'a*',
      '?',
      '[a]',
      'a:b',
      'a\r\nFLUSHALL\r\n',
      '"\'',
      ' ',
      '',
      'ü',
      '😀',
      `${prefix}perm:x`,
    ]
    await layer.setMany(ids.map((id, i) => [id, { permissions: [`p${i}`] }]))
    expect((await layer.getMany(ids)).map((value) => value?.permissions[0])).toEqual(
      ids.map((_, i) => `p${i}`),
    )
    await layer.delete('*')
    expect(await layer.get('*')).toBeUndefined()
    expect(await layer.get('a*')).toEqual({ permissions: ['p1'] })
    expect(await redis.dbsize()).toBeGreaterThan(0) // FLUSHALL was data, not a command
  })

  it('invalidate deletes the key and publishes the id to every subscriber', async () => {
    const a = redisLayer({ client: redis, keyPrefix: prefix })
    const other = await connectRedis()
    const b = redisLayer({ client: other, keyPrefix: prefix })
    const seen = vi.fn()
    b.subscribe({ invalidated: seen, reset: () => {} })
    await Promise.all([a.ready(), b.ready()])
    try {
      const id = 'x\r\n"*'
      await a.set(id, record)
      await a.invalidate(id)
      expect(await redis.exists(a.keyOf(id))).toBe(0)
      await vi.waitFor(() => expect(seen).toHaveBeenCalledWith(id))
    } finally {
      await Promise.all([a.close(), b.close()])
      other.disconnect()
    }
  })

  it('rejects bad configuration at construction, naming the option', () => {
    expect(() => redisLayer({} as never)).toThrow(/client/)
    expect(() => redisLayer({ client: redis, ttlSeconds: 1.5 })).toThrow(/ttlSeconds/)
    expect(() => redisLayer({ client: redis, negativeTtlSeconds: 0 })).toThrow(/negativeTtlSeconds/)
    expect(() => redisLayer({ client: redis, timeoutMs: -1 })).toThrow(/timeoutMs/)
    expect(() => redisLayer({ client: redis, keyPrefix: 1 as never })).toThrow(/keyPrefix/)
    expect(() => redisLayer({ client: redis, breaker: { failureThreshold: 0 } })).toThrow(
      /failureThreshold/,
    )
  })
})
