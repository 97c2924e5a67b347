import { makeProof, proofKey } from '@authframework/test-support/dpop'
import {
  connectRedis,
  deleteKeys,
  endpointOf,
  REDIS_URL,
  runId,
  scanKeys,
  viaProxy,
} from '@authframework/test-support/services'
import { startTcpProxy, type TcpProxy } from '@authframework/test-support/tcp-proxy'
import type { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createAuth } from '../../src/authenticate.js'
import { createRedisReplayStore } from '../../src/dpop/replay.js'
import { createCircuitBreaker } from '../../src/infra/circuit-breaker.js'
import {
  AUDIENCE,
  authErrorOf,
  claims,
  handSign,
  ISSUER,
  NOW_MS,
  NOW_S,
  rsaKeyPair,
  summary,
} from '../helpers.js'

const prefix = `af_test_${runId()}:dpop:`
let redis: Redis
let proxy: TcpProxy
let proxied: Redis

beforeAll(async () => {
  redis = await connectRedis()
  proxy = await startTcpProxy(endpointOf(REDIS_URL, 6379))
  proxied = await connectRedis(viaProxy(REDIS_URL, proxy))
})
afterAll(async () => {
  await deleteKeys(redis, prefix)
  redis.disconnect()
  proxied.disconnect()
  await proxy.close()
})

const store = (client: Redis = redis, openMs = 5000) =>
  createRedisReplayStore({
    client,
    keyPrefix: prefix,
    timeoutMs: 150,
    breaker: createCircuitBreaker({ failureThreshold: 3, openMs }),
  })

describe('the Redis replay store', () => {
  it('accepts a proof once across instances, with SET NX PX under the prefix', async () => {
    const a = store()
    const b = store()
    const key = `k-${runId()}`
    expect(await a.reserve(key, 60_000)).toBe(true)
    expect(await b.reserve(key, 60_000)).toBe(false)
    expect(await a.reserve(key, 60_000)).toBe(false)
    const ttl = await redis.pttl(`${prefix}${key}`)
    expect(ttl).toBeGreaterThan(55_000)
    expect(ttl).toBeLessThanOrEqual(60_000)
  })

  it('fails closed on a stalled or cut Redis (503), and recovers', async () => {
    const s = store(proxied, 200)
    proxy.stall()
    const stalled = await authErrorOf(() => s.reserve(`k-${runId()}`, 60_000))
    expect([stalled.code, stalled.status, stalled.dependency]).toEqual([
      'auth_unavailable',
      503,
      'redis',
    ])
    proxy.cut()
    const cut = await authErrorOf(() => s.reserve(`k-${runId()}`, 60_000))
    expect(cut.code).toBe('auth_unavailable')
    proxy.restore()
    const key = `k-${runId()}`
    let answer: boolean | undefined
    for (let i = 0; i < 100 && answer === undefined; i++) {
      try {
        answer = await s.reserve(key, 60_000)
      } catch {
        await new Promise((r) => setTimeout(r, 50))
      }
    }
    expect(answer).toBe(true)
    expect(await s.reserve(key, 60_000)).toBe(false)
  })
})

describe('DPoP through createAuth with the Redis store', () => {
  const issuer = rsaKeyPair()
  const key = proofKey('ES256')
  const token = handSign(
    { alg: 'RS256' },
    claims({ cnf: { jkt: key.jkt } }),
    'RS256',
    issuer.privateKey,
  )
  const instance = (client: Redis) =>
    createAuth({
      algorithms: ['RS256'],
      publicKey: issuer.publicPem,
      issuer: ISSUER,
      audience: AUDIENCE,
      clock: () => NOW_MS,
      dpop: { replay: { client, keyPrefix: prefix, timeoutMs: 150, breaker: { openMs: 200 } } },
    })
  const request = (proof: string) => ({
    authorization: `DPoP ${token}`,
    method: 'GET',
    url: '/orders',
    origin: 'https://api.example',
    headers: { dpop: proof },
  })
  const fresh = () => makeProof(key, { htu: 'https://api.example/orders', iat: NOW_S, token })

  it('refuses on every instance a proof accepted by one; only a hash of jkt and jti is stored', async () => {
    const proof = fresh()
    const [a, b] = [instance(redis), instance(redis)]
    expect((await a.authenticate(request(proof)))?.sub).toBe('user-1')
    const error = await authErrorOf(() => b.authenticate(request(proof)))
    expect(error.message).toBe('The DPoP proof has been used before.')
    const keys = await scanKeys(redis, prefix)
    const jti = JSON.parse(Buffer.from(proof.split('.')[1]!, 'base64url').toString()).jti
    expect(keys.some((k) => k.includes(jti) || k.includes(key.jkt))).toBe(false)
  })

  it('answers 503 while Redis is away, never an accept, and accepts again once it is back', async () => {
    const auth = instance(proxied)
    proxy.stall()
    const error = await authErrorOf(() => auth.authenticate(request(fresh())))
    expect(summary(error)).toEqual({
      code: 'auth_unavailable',
      status: 503,
      'www-authenticate': undefined,
    })
    expect(error.headers['retry-after']).toBe('1')
    proxy.restore()
    let sub: string | undefined
    for (let i = 0; i < 100 && sub === undefined; i++) {
      try {
        sub = (await auth.authenticate(request(fresh())))?.sub
      } catch {
        await new Promise((r) => setTimeout(r, 50))
      }
    }
    expect(sub).toBe('user-1')
  })
})
