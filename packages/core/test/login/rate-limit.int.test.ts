/**
 * Login attempt limits: reservations in memory with a fake clock, and shared through the machine's
 * Redis (two limiter instances on one prefix stand for two servers).
 */

import {
  connectRedis,
  countRedisCommands,
  deleteKeys,
  mgetCount,
  runId,
} from '@authframework/test-support/services'
import type { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import {
  createRateLimiter,
  type LoginAttempt,
  type LoginReservation,
  type RateLimiter,
  TooManyAttemptsError,
} from '../../src/login/index.js'
import { fakeClock } from '../helpers.js'

const alice = { username: 'alice', clientAddress: '203.0.113.7' }

async function failTimes(limiter: RateLimiter, attempt: LoginAttempt, n: number) {
  for (let i = 0; i < n; i++) await (await limiter.reserve(attempt)).failed()
}

async function refusal(promise: Promise<unknown>): Promise<TooManyAttemptsError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(TooManyAttemptsError)
  return error as TooManyAttemptsError
}

/** `n` concurrent reservations: the granted ones, and how many were refused with 429. */
async function burst(
  limiters: readonly RateLimiter[],
  attempt: (i: number) => LoginAttempt,
  n: number,
): Promise<{ granted: LoginReservation[]; refused: number }> {
  const results = await Promise.allSettled(
    Array.from({ length: n }, (_, i) => limiters[i % limiters.length]!.reserve(attempt(i))),
  )
  const granted: LoginReservation[] = []
  let refused = 0
  for (const result of results) {
    if (result.status === 'fulfilled') granted.push(result.value)
    else if (result.reason instanceof TooManyAttemptsError) refused++
    else throw result.reason
  }
  return { granted, refused }
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
    const error = await refusal(limiter.reserve(alice))
    expect(error).toMatchObject({ status: 429, code: 'too_many_attempts', retryAfterSeconds: 40 })
    expect(error.headers).toEqual({ 'retry-after': '40' })
    expect(error.toProblem()).toMatchObject({ status: 429, code: 'too_many_attempts' })
    time.advanceSeconds(40)
    await expect(limiter.reserve(alice)).resolves.toBeDefined()
  })

  it('a burst of 50 concurrent attempts gets exactly maxFailures reservations', async () => {
    const limiter = createRateLimiter({ username: { maxFailures: 5, windowSeconds: 60 } })
    const { granted, refused } = await burst([limiter], () => alice, 50)
    expect(granted).toHaveLength(5)
    expect(refused).toBe(45)
  })

  it('reserves for the username and the address together: either full refuses, and reserves nothing', async () => {
    const limiter = createRateLimiter({
      username: { maxFailures: 2, windowSeconds: 60 },
      clientAddress: { maxFailures: 3, windowSeconds: 60 },
    })
    // one address spraying usernames: the address fills first
    const { granted, refused } = await burst(
      [limiter],
      (i) => ({ username: `user-${i}`, clientAddress: '198.51.100.9' }),
      20,
    )
    expect(granted).toHaveLength(3)
    expect(refused).toBe(17)
    // the refused attempts reserved nothing for their usernames
    await expect(
      limiter.reserve({ username: 'user-19', clientAddress: '198.51.100.10' }),
    ).resolves.toBeDefined()
    // usernames are counted case-insensitively, across addresses
    await failTimes(limiter, { username: 'Bob', clientAddress: '198.51.100.1' }, 2)
    await refusal(limiter.reserve({ username: 'bob', clientAddress: '198.51.100.2' }))
  })

  it('a success gives back its own reservation and clears finished failures, not those in flight', async () => {
    const limiter = createRateLimiter({
      username: { maxFailures: 4, windowSeconds: 60 },
      clientAddress: { maxFailures: 5, windowSeconds: 60 },
    })
    await failTimes(limiter, alice, 1) // a finished failure
    const inFlight = await limiter.reserve(alice)
    const right = await limiter.reserve(alice)
    await right.succeeded()
    // the finished failure is forgotten; the attempt in flight still holds its place: 3 left
    const { granted } = await burst([limiter], () => ({ username: 'alice' }), 10)
    expect(granted).toHaveLength(3)
    await inFlight.failed()
    await refusal(limiter.reserve({ username: 'alice' }))
    // the address kept the finished failure and the one in flight (2 of 5); the success gave
    // its own back
    await limiter.reserve({ username: 'carol', clientAddress: alice.clientAddress })
    await limiter.reserve({ username: 'dave', clientAddress: alice.clientAddress })
    await limiter.reserve({ username: 'erin', clientAddress: alice.clientAddress })
    await refusal(limiter.reserve({ username: 'frank', clientAddress: alice.clientAddress }))
  })

  it('release gives the reservation back; settling twice counts once', async () => {
    const limiter = createRateLimiter({ username: { maxFailures: 2, windowSeconds: 60 } })
    const first = await limiter.reserve(alice)
    await first.release()
    await first.release()
    await first.failed() // already settled: no effect
    const second = await limiter.reserve(alice)
    await second.failed()
    await second.failed()
    await second.succeeded()
    await failTimes(limiter, alice, 1)
    await refusal(limiter.reserve(alice))
  })

  it('groups IPv6 addresses by /64 and IPv4-mapped addresses with their IPv4 address', async () => {
    const limiter = createRateLimiter({
      username: { maxFailures: 100, windowSeconds: 60 },
      clientAddress: { maxFailures: 3, windowSeconds: 60 },
    })
    const inOne64 = ['2001:db8:1:2::1', '2001:DB8:1:2:ffff:ffff:ffff:ffff', '2001:db8:1:2:0:0:0:7']
    for (const [i, clientAddress] of inOne64.entries()) {
      await failTimes(limiter, { username: `u${i}`, clientAddress }, 1)
    }
    await refusal(limiter.reserve({ username: 'u9', clientAddress: '2001:db8:1:2:abcd::1' }))
    await refusal(limiter.reserve({ username: 'u9', clientAddress: '[2001:db8:1:2::9%eth0]' }))
    // the neighbouring /64s are not affected
    await expect(
      limiter.reserve({ username: 'u9', clientAddress: '2001:db8:1:3::1' }),
    ).resolves.toBeDefined()
    await expect(
      limiter.reserve({ username: 'u9', clientAddress: '2001:db8:1:1::1' }),
    ).resolves.toBeDefined()
    // ::ffff:192.0.2.1 is 192.0.2.1, in either spelling
    await failTimes(limiter, { username: 'v1', clientAddress: '::ffff:192.0.2.1' }, 1)
    await failTimes(limiter, { username: 'v2', clientAddress: '192.0.2.1' }, 1)
    await failTimes(limiter, { username: 'v3', clientAddress: '::FFFF:c000:0201' }, 1)
    await refusal(limiter.reserve({ username: 'v4', clientAddress: '192.0.2.1' }))
    await expect(
      limiter.reserve({ username: 'v4', clientAddress: '192.0.2.2' }),
    ).resolves.toBeDefined()
    expect(limiter.keysOf({ username: 'x', clientAddress: '::ffff:192.0.2.1' })).toEqual(
      limiter.keysOf({ username: 'x', clientAddress: '192.0.2.1' }),
    )
  })

  it('stays bounded', async () => {
    const limiter = createRateLimiter({
      maxEntries: 10,
      username: { maxFailures: 1, windowSeconds: 60 },
    })
    for (let i = 0; i < 100; i++) await failTimes(limiter, { username: `user-${i}` }, 1)
    await refusal(limiter.reserve({ username: 'user-99' }))
    await expect(limiter.reserve({ username: 'user-0' })).resolves.toBeDefined() // evicted
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

  it('reserves in one atomic step per slot (one EVALSHA on a single Redis) for the username and the address', async () => {
    const a = createRateLimiter({ ...rules, redis: { client: redis, keyPrefix: `${prefix}1:` } })
    expect(a.backend).toBe('redis')
    const keys = a.keysOf(alice)
    const slots = await mgetCount(redis, [keys.username, keys.clientAddress!])
    const counter = countRedisCommands(redis)
    const reservation = await a.reserve(alice)
    // EVALSHA (and EVAL when Redis did not know the script yet), nothing else; on a Cluster one
    // per slot of the two keys
    expect(counter.get('evalsha')).toBe(slots)
    expect([...counter.counts.keys()].filter((name) => !/^eval/.test(name))).toEqual([])
    expect(await redis.hgetall(keys.username)).toEqual({ n: '1', p: '1' })
    const ttl = await redis.ttl(keys.username)
    expect(ttl).toBeGreaterThan(50)
    expect(ttl).toBeLessThanOrEqual(60)
    expect(await redis.ttl(keys.clientAddress!)).toBeGreaterThan(110)
    await reservation.failed()
    expect(await redis.hgetall(keys.username)).toEqual({ n: '1', p: '0' })
  })

  it('a full address refuses a fresh username and leaves its counter as it was (on a Cluster: given back)', async () => {
    const a = createRateLimiter({ ...rules, redis: { client: redis, keyPrefix: `${prefix}full:` } })
    const at = (username: string) => ({ username, clientAddress: '198.51.100.9' })
    for (let i = 0; i < 10; i++) await (await a.reserve(at(`user-${i}`))).failed()
    await refusal(a.reserve(at('fresh')))
    // nothing reserved for it: no failure, no attempt in flight
    const counter = await redis.hgetall(a.keysOf(at('fresh')).username)
    expect([Number(counter.n ?? 0), Number(counter.p ?? 0)]).toEqual([0, 0])
  })

  it('two instances, a burst of 50: exactly maxFailures reservations between them', async () => {
    const keyPrefix = `${prefix}2:`
    const a = createRateLimiter({ ...rules, redis: { client: redis, keyPrefix } })
    const b = createRateLimiter({ ...rules, redis: { client: other, keyPrefix } })
    const { granted, refused } = await burst([a, b], () => alice, 50)
    expect(granted).toHaveLength(3)
    expect(refused).toBe(47)
    await Promise.all(granted.map((r) => r.failed()))
    const error = await refusal(b.reserve(alice))
    expect(error.retryAfterSeconds).toBeGreaterThan(50)
    expect(error.retryAfterSeconds).toBeLessThanOrEqual(60)
    // the refusals counted nothing and did not extend the window
    const keys = a.keysOf(alice)
    expect(await redis.hgetall(keys.username)).toEqual({ n: '3', p: '0' })
    expect(await redis.ttl(keys.username)).toBeLessThanOrEqual(60)
  })

  it('a success on one instance clears finished failures, not the other attempts in flight', async () => {
    const keyPrefix = `${prefix}3:`
    const a = createRateLimiter({ ...rules, redis: { client: redis, keyPrefix } })
    const b = createRateLimiter({ ...rules, redis: { client: other, keyPrefix } })
    const keys = a.keysOf(alice)
    await failTimes(a, alice, 1)
    const inFlight = await b.reserve(alice)
    const right = await a.reserve(alice)
    await right.succeeded()
    expect(await redis.hgetall(keys.username)).toEqual({ n: '1', p: '1' })
    // the address keeps the failure and the attempt in flight
    expect(await redis.hgetall(keys.clientAddress!)).toEqual({ n: '2', p: '1' })
    await inFlight.failed()
    const { granted } = await burst([a, b], () => alice, 10)
    expect(granted).toHaveLength(2)
  })

  it('loads its scripts again after SCRIPT FLUSH, and drops a counter of another type', async () => {
    const keyPrefix = `${prefix}4:`
    const a = createRateLimiter({ ...rules, redis: { client: redis, keyPrefix } })
    const keys = a.keysOf(alice)
    await redis.set(keys.username, '99') // an older version's counter
    await redis.script('FLUSH')
    await expect(a.reserve(alice)).resolves.toBeDefined()
    expect(await redis.hgetall(keys.username)).toEqual({ n: '1', p: '1' })
  })

  it('falls back to in-memory counters while Redis is unreachable (no lockout, no free guessing)', async () => {
    const broken = await connectRedis()
    const onRedisError = vi.fn()
    const limiter = createRateLimiter({
      ...rules,
      redis: {
        client: broken,
        keyPrefix: `${prefix}5:`,
        breaker: { failureThreshold: 2, openMs: 60_000 },
      },
      onRedisError,
    })
    const mallory = { username: 'mallory', clientAddress: '192.0.2.66' }
    await failTimes(limiter, mallory, 1) // counted in Redis and in memory
    broken.disconnect() // a real connection, really closed
    await expect(limiter.reserve({ username: 'someone-else' })).resolves.toBeDefined()
    expect(onRedisError).toHaveBeenCalled()
    // the local limit holds for a burst too
    const { granted, refused } = await burst([limiter], () => mallory, 20)
    expect(granted).toHaveLength(2)
    expect(refused).toBe(18)
    await Promise.all(granted.map((r) => r.failed()))
    const error = await refusal(limiter.reserve(mallory))
    expect(error.retryAfterSeconds).toBeGreaterThan(0)
    // the circuit is open: no more waiting on the dead connection
    const calls = onRedisError.mock.calls.length
    await refusal(limiter.reserve(mallory))
    expect(onRedisError.mock.calls.length).toBe(calls)
  })
})
