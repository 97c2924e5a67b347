/** Failed-login limits: in memory with a fake clock, and shared through the machine's Redis. */
import type { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { createRateLimiter, TooManyAttemptsError } from '../../src/login/index.js'
import { fakeClock } from '../helpers.js'
import { connectRedis, countRedisCommands, deleteKeys, runId } from '../support/services.js'

const alice = { username: 'alice', clientAddress: '203.0.113.7' }

async function failTimes(
  limiter: ReturnType<typeof createRateLimiter>,
  attempt: { username: string; clientAddress?: string },
  n: number,
) {
  for (let i = 0; i < n; i++) {
    await limiter.check(attempt)
    await limiter.recordFailure(attempt)
  }
}

async function refusal(promise: Promise<unknown>): Promise<TooManyAttemptsError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(TooManyAttemptsError)
  return error as TooManyAttemptsError
}

describe('createRateLimiter (memory)', () => {
  it('refuses the attempt after maxFailures with 429 and Retry-After, until the window ends', async () => {
    const time = fakeClock()
    const limiter = createRateLimiter({
      username: { maxFailures: 3, windowSeconds: 60 },
      clock: time.clock,
    })
    expect(limiter.backend).toBe('memory')
    await failTimes(limiter, alice, 3)
    time.advanceSeconds(20)
    const error = await refusal(limiter.check(alice))
    expect(error).toMatchObject({ status: 429, code: 'too_many_attempts', retryAfterSeconds: 40 })
    expect(error.headers).toEqual({ 'retry-after': '40' })
    expect(error.toProblem()).toMatchObject({ status: 429, code: 'too_many_attempts' })
    time.advanceSeconds(40)
    await expect(limiter.check(alice)).resolves.toBeUndefined()
  })

  it('counts usernames case-insensitively and per address across usernames', async () => {
    const limiter = createRateLimiter({
      username: { maxFailures: 2, windowSeconds: 60 },
      clientAddress: { maxFailures: 3, windowSeconds: 60 },
    })
    await failTimes(limiter, { username: 'Bob', clientAddress: '198.51.100.1' }, 2)
    await refusal(limiter.check({ username: 'bob', clientAddress: '198.51.100.2' }))
    // one address spraying different usernames
    await failTimes(limiter, { username: 'u1', clientAddress: '198.51.100.9' }, 1)
    await failTimes(limiter, { username: 'u2', clientAddress: '198.51.100.9' }, 1)
    await failTimes(limiter, { username: 'u3', clientAddress: '198.51.100.9' }, 1)
    await refusal(limiter.check({ username: 'u4', clientAddress: '198.51.100.9' }))
    await expect(
      limiter.check({ username: 'u4', clientAddress: '198.51.100.10' }),
    ).resolves.toBeUndefined()
  })

  it('a success clears the username counter but not the address counter', async () => {
    const limiter = createRateLimiter({
      username: { maxFailures: 2, windowSeconds: 60 },
      clientAddress: { maxFailures: 3, windowSeconds: 60 },
    })
    await failTimes(limiter, alice, 2)
    await limiter.recordSuccess(alice)
    await expect(limiter.check({ username: 'alice' })).resolves.toBeUndefined()
    await limiter.recordFailure({ username: 'carol', clientAddress: alice.clientAddress })
    await refusal(limiter.check({ username: 'dave', clientAddress: alice.clientAddress }))
  })

  it('stays bounded', async () => {
    const limiter = createRateLimiter({
      maxEntries: 10,
      username: { maxFailures: 1, windowSeconds: 60 },
    })
    for (let i = 0; i < 100; i++) await limiter.recordFailure({ username: `user-${i}` })
    await refusal(limiter.check({ username: 'user-99' }))
    await expect(limiter.check({ username: 'user-0' })).resolves.toBeUndefined() // evicted
  })

  it('keeps no username or address in clear in its keys', () => {
    const limiter = createRateLimiter()
    const keys = limiter.keysOf(alice)
    expect(keys.username).toMatch(/^af:login:u:[A-Za-z0-9_-]{43}$/)
    expect(keys.clientAddress).toMatch(/^af:login:a:[A-Za-z0-9_-]{43}$/)
    expect(JSON.stringify(keys)).not.toContain('alice')
    expect(limiter.keysOf({ username: 'x' }).clientAddress).toBeUndefined()
  })

  it('checks its options', () => {
    expect(() => createRateLimiter({ username: { maxFailures: 0, windowSeconds: 1 } })).toThrow(
      /username\.maxFailures/,
    )
    expect(() =>
      createRateLimiter({ clientAddress: { maxFailures: 1, windowSeconds: 0.5 } }),
    ).toThrow(/clientAddress\.windowSeconds/)
    expect(() => createRateLimiter({ redis: { client: {} as Redis } })).toThrow(/ioredis/)
  })
})

describe('createRateLimiter (Redis)', () => {
  const prefix = `aftest:${runId()}:login:`
  let redis: Redis
  let other: Redis

  beforeAll(async () => {
    redis = await connectRedis()
    other = await connectRedis()
  })

  afterAll(async () => {
    if (redis) await deleteKeys(redis, prefix)
    redis?.disconnect()
    other?.disconnect()
  })

  const rules = {
    username: { maxFailures: 3, windowSeconds: 60 },
    clientAddress: { maxFailures: 10, windowSeconds: 120 },
  }

  it('shares counters between instances: SET NX EX + INCR in one pipeline', async () => {
    const a = createRateLimiter({ ...rules, redis: { client: redis, keyPrefix: prefix } })
    const b = createRateLimiter({ ...rules, redis: { client: other, keyPrefix: prefix } })
    expect(a.backend).toBe('redis')
    const counter = countRedisCommands(redis)
    await a.recordFailure(alice)
    expect(counter.get('set')).toBe(2)
    expect(counter.get('incr')).toBe(2)
    expect(counter.pipelined.get('incr')).toBe(2)
    const keys = a.keysOf(alice)
    expect(await redis.get(keys.username)).toBe('1')
    const ttl = await redis.ttl(keys.username)
    expect(ttl).toBeGreaterThan(50)
    expect(ttl).toBeLessThanOrEqual(60)
    expect(await redis.ttl(keys.clientAddress!)).toBeGreaterThan(110)

    await b.recordFailure(alice)
    await a.recordFailure(alice)
    // b has counted only one failure itself: the refusal comes from the shared counter
    const error = await refusal(b.check(alice))
    expect(error.retryAfterSeconds).toBeGreaterThan(50)
    expect(error.retryAfterSeconds).toBeLessThanOrEqual(60)
    // the window is not extended by further failures
    await a.recordFailure(alice)
    expect(await redis.ttl(keys.username)).toBeLessThanOrEqual(60)
    expect(await redis.get(keys.username)).toBe('4')

    await b.recordSuccess(alice)
    expect(await redis.exists(keys.username)).toBe(0)
    expect(await redis.get(keys.clientAddress!)).toBe('4')
    await expect(a.check(alice)).resolves.toBeUndefined()
  })

  it('falls back to in-memory counters while Redis is unreachable (no lockout, no free guessing)', async () => {
    const broken = await connectRedis()
    const onRedisError = vi.fn()
    const limiter = createRateLimiter({
      ...rules,
      redis: {
        client: broken,
        keyPrefix: prefix,
        breaker: { failureThreshold: 2, openMs: 60_000 },
      },
      onRedisError,
    })
    const mallory = { username: 'mallory', clientAddress: '192.0.2.66' }
    await limiter.recordFailure(mallory) // counted in Redis and in memory
    broken.disconnect() // a real connection, really closed
    await expect(limiter.check({ username: 'someone-else' })).resolves.toBeUndefined()
    expect(onRedisError).toHaveBeenCalled()
    await limiter.recordFailure(mallory)
    await limiter.recordFailure(mallory)
    const error = await refusal(limiter.check(mallory))
    expect(error.retryAfterSeconds).toBeGreaterThan(0)
    // the circuit is open: no more waiting on the dead connection
    const calls = onRedisError.mock.calls.length
    await refusal(limiter.check(mallory))
    expect(onRedisError.mock.calls.length).toBe(calls)
  })
})
