/**
 * Redis and PostgreSQL cut for real (TCP proxies) under the distributed revocation list: what an
 * instance sees while its Redis is away, the catch-up from PostgreSQL after the reconnect, the
 * strict mode answering from PostgreSQL and failing closed without it, a revocation made while the revoker's own Redis is away.
 */

import {
  connectRedis,
  createTestSchema,
  DATABASE_URL,
  deleteKeys,
  endpointOf,
  REDIS_URL,
  runId,
  type TestSchema,
  viaProxy,
} from '@authframework/test-support/services'
import { startTcpProxy, type TcpProxy } from '@authframework/test-support/tcp-proxy'
import type { Redis } from 'ioredis'
import type pg from 'pg'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { type AuthError, errorResponse, migrate } from '../../src/index.js'
import { codeOf, type Instance, signer, startInstance, until } from './setup.js'

const prefix = `aftest:${runId()}:`
let schema: TestSchema
let pool: pg.Pool
let direct: Redis
let redisProxy: TcpProxy
let pgProxy: TcpProxy
let a: Instance
const cleanup: Array<() => unknown> = []

beforeAll(async () => {
  ;[schema, direct, redisProxy, pgProxy] = await Promise.all([
    createTestSchema(),
    connectRedis(),
    startTcpProxy(endpointOf(REDIS_URL, 6379)),
    startTcpProxy(endpointOf(DATABASE_URL, 5432)),
  ])
  pool = schema.pool({ max: 4 })
  await migrate(pool)
  // the instance that stays connected; no periodic re-read, so what it learns comes from pub/sub
  a = await startInstance(pool, prefix, cleanup, { syncIntervalMs: false })
})

afterEach(async () => {
  redisProxy.restore()
  pgProxy.restore()
  for (const fn of cleanup.splice(1).reverse()) await fn()
})

afterAll(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn()
  await Promise.allSettled([redisProxy?.close(), pgProxy?.close()])
  if (direct) {
    await deleteKeys(direct, prefix)
    direct.disconnect()
  }
  await schema?.drop()
})

const viaRedisProxy = () => viaProxy(REDIS_URL, redisProxy)

describe('Redis cut under a local-mode instance', () => {
  it('catches up from PostgreSQL after the reconnect on what was revoked meanwhile', async () => {
    const b = await startInstance(pool, prefix, cleanup, {
      url: viaRedisProxy(),
      syncIntervalMs: false,
      outageSyncIntervalMs: false, // only the reconnect brings the catch-up
    })
    const token = signer.sign({ sub: 'missed' })
    const jtiToken = signer.sign({ sub: 'missed', jti: `missed-${runId()}` })
    const jti = JSON.parse(Buffer.from(jtiToken.split('.')[1]!, 'base64url').toString()).jti
    for (const t of [token, jtiToken]) expect(await codeOf(b.auth.verify(t))).toBe('ok')
    // the reads b starts when it subscribes may still be running after ready(): one of them
    // starting after the revocations below would learn them without any reconnect
    await b.list.sync()

    redisProxy.cut()
    await until(async () => b.list.state === 'disconnected')
    await a.auth.revoke({ token })
    await a.auth.revoke({ jti })
    // the window: b never got the messages and does not poll, so it still accepts them
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(await codeOf(b.auth.verify(token))).toBe('ok')
    expect(await codeOf(b.auth.verify(jtiToken))).toBe('ok')

    const restoredAt = performance.now()
    redisProxy.restore()
    await until(async () => (await codeOf(b.auth.verify(token))) === 'token_revoked', 10_000)
    const ms = performance.now() - restoredAt
    console.log(
      `[revocation] Redis restored -> missed revocation caught up from PostgreSQL in ${ms.toFixed(1)} ms`,
    )
    expect(await codeOf(b.auth.verify(jtiToken))).toBe('token_revoked')
    expect(b.list.state).toBe('live')
  })

  it('polls PostgreSQL while Redis is away (outageSyncIntervalMs)', async () => {
    const b = await startInstance(pool, prefix, cleanup, {
      url: viaRedisProxy(),
      syncIntervalMs: false,
      outageSyncIntervalMs: 100,
    })
    const token = signer.sign({ sub: 'polled' })
    expect(await codeOf(b.auth.verify(token))).toBe('ok')
    redisProxy.cut()
    await until(async () => b.list.state === 'disconnected')
    const start = performance.now()
    await a.auth.revoke({ token })
    await until(async () => (await codeOf(b.auth.verify(token))) === 'token_revoked')
    const ms = performance.now() - start
    console.log(
      `[revocation] Redis down, outage polling every 100 ms: seen after ${ms.toFixed(1)} ms`,
    )
    expect(ms).toBeLessThan(1000)
    expect(b.list.state).toBe('disconnected')
  })

  it('a revocation made while its own Redis is away is stored, reported, and published once Redis is back', async () => {
    const b = await startInstance(pool, prefix, cleanup, {
      url: viaRedisProxy(),
      syncIntervalMs: false,
      outageSyncIntervalMs: false,
      onError: () => {},
    })
    const token = signer.sign({ sub: 'outbox' })
    expect(await codeOf(a.auth.verify(token))).toBe('ok')
    redisProxy.cut()
    await until(async () => b.list.state === 'disconnected')
    const error = (await b.auth.revoke({ token }).catch((e) => e)) as AuthError
    expect(error.code).toBe('auth_unavailable')
    expect(error.message).not.toContain(token)
    // in effect here at once, and durable
    expect(await codeOf(b.auth.verify(token))).toBe('token_revoked')
    const { rowCount } = await pool.query('SELECT 1 FROM tokens WHERE user_id = $1', ['outbox'])
    expect(rowCount).toBe(1)
    expect(await codeOf(a.auth.verify(token))).toBe('ok') // a has not heard of it yet
    redisProxy.restore()
    const ms = await until(async () => (await codeOf(a.auth.verify(token))) === 'token_revoked')
    console.log(
      `[revocation] revoker's Redis restored -> queued revocation published in ${ms.toFixed(1)} ms`,
    )
  })
})

describe('strict mode', () => {
  it('answers from PostgreSQL while Redis is down, fails closed (503) when PostgreSQL is down too, and recovers', async () => {
    const proxied = schema.pool({
      connectionString: viaProxy(DATABASE_URL, pgProxy),
      max: 2,
      connectionTimeoutMillis: 500,
    })
    const s = await startInstance(proxied, prefix, cleanup, {
      url: viaRedisProxy(),
      mode: 'strict',
      breaker: { failureThreshold: 2, openMs: 100 },
      onError: () => {},
    })
    cleanup.push(() => proxied.end())
    const fine = signer.sign({ sub: 'strict-down' })
    const revoked = signer.sign({ sub: 'strict-down-revoked' })
    for (const token of [fine, revoked]) expect(await codeOf(s.auth.verify(token))).toBe('ok')

    redisProxy.cut()
    // revoked through another instance while s cannot reach Redis: PostgreSQL has it
    await a.auth.revoke({ token: revoked })
    for (let i = 0; i < 5; i++) {
      expect(await codeOf(s.auth.verify(revoked))).toBe('token_revoked')
      expect(await codeOf(s.auth.verify(fine))).toBe('ok')
    }

    pgProxy.cut()
    for (let i = 0; i < 3; i++) {
      const error = (await s.auth.verify(fine).catch((e) => e)) as AuthError
      expect(error.code).toBe('auth_unavailable')
      const response = errorResponse(error)
      expect(response.status).toBe(503)
      expect(response.headers['retry-after']).toBe('1')
      expect(await codeOf(s.auth.verify(revoked))).not.toBe('ok')
    }

    pgProxy.restore()
    redisProxy.restore()
    const ms = await until(async () => (await codeOf(s.auth.verify(fine))) === 'ok')
    expect(await codeOf(s.auth.verify(revoked))).toBe('token_revoked')
    console.log(
      `[revocation] strict mode: Redis and PostgreSQL restored -> accepting again after ${ms.toFixed(1)} ms`,
    )
  })
})

describe('PostgreSQL cut at start-up', () => {
  it('refuses checks (503) until the first read succeeds, then loads', async () => {
    const token = signer.sign({ sub: 'pg-down' })
    await a.auth.revoke({ token })
    pgProxy.cut()
    const proxied = schema.pool({
      host: pgProxy.host,
      port: pgProxy.port,
      connectionString: viaProxy(DATABASE_URL, pgProxy),
      max: 2,
      connectionTimeoutMillis: 500,
    })
    const c = await startInstance(proxied, prefix, cleanup, {
      wait: false,
      outageSyncIntervalMs: 100,
      onError: () => {},
    })
    await expect(c.list.ready()).rejects.toMatchObject({ code: 'auth_unavailable' })
    expect(await codeOf(c.auth.verify(signer.sign({ sub: 'pg-down-2' })))).toBe('auth_unavailable')
    pgProxy.restore()
    await until(async () => c.list.state === 'live')
    expect(await codeOf(c.auth.verify(token))).toBe('token_revoked')
  })
})
