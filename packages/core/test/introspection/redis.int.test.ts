import { createHash } from 'node:crypto'
import {
  activeAnswer,
  type IntrospectionServer,
  startIntrospectionServer,
} from '@authframework/test-support/introspection-server'
import {
  connectRedis,
  deleteKeys,
  endpointOf,
  REDIS_URL,
  runId,
  scanKeys,
  viaProxy,
} from '@authframework/test-support/services'
import { startTcpProxy } from '@authframework/test-support/tcp-proxy'
import type { Redis } from 'ioredis'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import {
  createIntrospector,
  type Introspector,
  type IntrospectorOptions,
  introspectionKey,
} from '../../src/introspection/index.js'

const prefix = `af_test_${runId()}:`
let redis: Redis
let server: IntrospectionServer
const nowSeconds = () => Math.floor(Date.now() / 1000)
const cleanup: Array<() => Promise<void>> = []

beforeAll(async () => {
  redis = await connectRedis()
  server = await startIntrospectionServer(() => ({ json: activeAnswer(nowSeconds(), 60) }))
})
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn()
  server.calls.length = 0
  server.answer(() => ({ json: activeAnswer(nowSeconds(), 60) }))
})
afterAll(async () => {
  await deleteKeys(redis, prefix)
  redis.disconnect()
  await server.close()
})

/** One "instance": its own memory layer, the shared Redis. */
function instance(
  options: Partial<IntrospectorOptions> = {},
  client: Redis = redis,
  keyPrefix = prefix,
): Introspector {
  const introspector = createIntrospector({
    endpoint: server.url,
    clientId: 'orders-api',
    clientSecret: 'secret',
    cache: { maxTtlSeconds: 300, redis: { client, keyPrefix } },
    ...options,
  })
  cleanup.push(() => introspector.close())
  return introspector
}

const sha256 = (token: string) => createHash('sha256').update(token).digest('base64url')

describe('the Redis layer', () => {
  it('a second instance is answered from Redis (and then from its memory)', async () => {
    const a = instance()
    const b = instance()
    const token = `tok-${runId()}`
    await a.introspect(token)
    expect(server.calls).toHaveLength(1)
    expect(await b.introspect(token)).toMatchObject({ sub: 'svc-1' })
    expect(await b.introspect(token)).toMatchObject({ sub: 'svc-1' })
    expect(server.calls).toHaveLength(1)
    expect(b.stats).toMatchObject({ calls: 0, redisHits: 1, memoryHits: 1 })
  })

  it('keys by the SHA-256 of the token: the token is in no key and no value', async () => {
    const a = instance()
    const token = `secret-opaque-${runId()}`
    await a.introspect(token)
    const key = introspectionKey(prefix, sha256(token))
    const keys = await scanKeys(redis, prefix)
    expect(keys).toContain(key)
    for (const k of keys) {
      expect(k).not.toContain(token)
      expect((await redis.get(k)) ?? '').not.toContain(token)
    }
  })

  it('sets the Redis TTL to min(maxTtlSeconds, exp − now)', async () => {
    const a = instance({
      cache: { maxTtlSeconds: 20, redis: { client: redis, keyPrefix: prefix } },
    })
    const long = `long-${runId()}`
    await a.introspect(long)
    const pttlLong = await redis.pttl(introspectionKey(prefix, sha256(long)))
    expect(pttlLong).toBeGreaterThan(18_000)
    expect(pttlLong).toBeLessThanOrEqual(20_000)
    server.answer(() => ({ json: activeAnswer(nowSeconds(), 5) }))
    const short = `short-${runId()}`
    await a.introspect(short)
    const pttlShort = await redis.pttl(introspectionKey(prefix, sha256(short)))
    expect(pttlShort).toBeGreaterThan(3_000)
    expect(pttlShort).toBeLessThanOrEqual(5_000)
  })

  it('stores only active answers', async () => {
    server.answer(() => ({ json: { active: false } }))
    const a = instance()
    const token = `inactive-${runId()}`
    expect(await a.introspect(token)).toBeNull()
    expect(await redis.exists(introspectionKey(prefix, sha256(token)))).toBe(0)
  })

  it('an entry past its validity (by the reader’s clock) is not served', async () => {
    const a = instance()
    const token = `stale-${runId()}`
    await a.introspect(token) // valid for 60 s
    const later = instance({ clock: () => Date.now() + 61_000 })
    server.answer(() => ({ json: { active: false } }))
    expect(await later.introspect(token)).toBeNull()
    expect(server.calls).toHaveLength(2)
  })

  it('evict removes the entry from Redis and from the memory of every instance', async () => {
    const a = instance()
    const b = instance()
    await Promise.all([a.ready(), b.ready()])
    const token = `evict-${runId()}`
    await a.introspect(token)
    await b.introspect(token) // from Redis, now in b's memory
    expect(server.calls).toHaveLength(1)
    await a.evict(token)
    expect(await redis.exists(introspectionKey(prefix, sha256(token)))).toBe(0)
    // b's memory copy goes once the eviction message arrives
    await vi.waitFor(async () => {
      const before = server.calls.length
      await b.introspect(token)
      expect(server.calls.length).toBe(before + 1)
    })
  })

  it('Redis down: introspection still answers (from the server), evict rejects', async () => {
    const proxy = await startTcpProxy(endpointOf(REDIS_URL, 6379))
    const viaRedis = await connectRedis(viaProxy(REDIS_URL, proxy))
    cleanup.push(async () => {
      viaRedis.disconnect()
      await proxy.close()
    })
    const a = instance({}, viaRedis)
    proxy.cut()
    const token = `down-${runId()}`
    await expect(a.introspect(token)).resolves.toMatchObject({ sub: 'svc-1' })
    await expect(a.introspect(token)).resolves.toMatchObject({ sub: 'svc-1' }) // memory
    expect(server.calls).toHaveLength(1)
    expect(a.stats.redisErrors).toBeGreaterThan(0)
    await expect(a.evict(token)).rejects.toThrow()
  })
})
