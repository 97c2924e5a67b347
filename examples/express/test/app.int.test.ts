import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { type Demo, logSlowAuthentications } from '@authframework/example-shared'
import { exampleSuite, type Listening, portTakenTest } from '@authframework/example-shared/suite'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startDemo } from '../../shared/demo.js'
import { type ServicesEnv, servicesEnv } from '../../shared/test-support.js'
import { buildApp } from '../src/app.js'

async function listen(d: Demo): Promise<Listening> {
  const app = buildApp({
    auth: d.authOptions,
    jwks: d.signer.exportJwks(),
    login: d.login,
    metrics: d.metrics,
  })
  const server = app.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((resolve) => server.close(resolve)),
  }
}

const { demo, state } = exampleSuite('express', listen)

describe('examples/express: metrics and diagnostics', () => {
  it('serves the counters of the metrics object its auth instance records into', async () => {
    const before = demo.metrics.snapshot().authentications.token_invalid
    await fetch(`${state.url}/orders`, { headers: { authorization: 'Bearer not-a-token' } })
    expect(demo.metrics.snapshot().authentications.token_invalid).toBe(before + 1)
    const text = await (await fetch(`${state.url}/metrics`)).text()
    expect(text).toContain(
      `authframework_authentications_total{outcome="token_invalid"} ${before + 1}`,
    )
  })

  it('diagnostics channel: logs failed and slow authentications, not the token', async () => {
    const lines: string[] = []
    const stop = logSlowAuthentications(0, (line) => lines.push(line))
    const reader = demo.signer.sign({ sub: 'user-42', perms: ['orders:read'] })
    try {
      await fetch(`${state.url}/orders`, { headers: { authorization: 'Bearer not-a-token' } })
      await fetch(`${state.url}/orders`, { headers: { authorization: `Bearer ${reader}` } })
    } finally {
      stop()
    }
    await fetch(`${state.url}/orders`) // after stop(): not logged
    expect(lines).toHaveLength(2)
    expect(lines[0]).toMatch(/^\[auth\] failed: token_invalid in \d+\.\d ms$/)
    expect(lines[1]).toMatch(/^\[auth\] slow: ok in \d+\.\d ms$/)
    expect(lines.join('\n')).not.toContain(reader)
  })
})

describe('examples/express with REDIS_URL and DATABASE_URL', () => {
  const password = 'correct horse battery'
  let services: ServicesEnv
  const started: Awaited<ReturnType<typeof startDemo>>[] = []
  const servers: Listening[] = []
  let first = ''
  let second = ''

  beforeAll(async () => {
    services = await servicesEnv(password)
    // Two instances of one deployment: one issuer, one Redis prefix, one database.
    const a = await startDemo(services.env, { keyPrefix: services.keyPrefix })
    started.push(a)
    const b = await startDemo(services.env, {
      keyPrefix: services.keyPrefix,
      signer: a.demo.signer,
    })
    started.push(b)
    for (const { demo: d } of started) {
      const listening = await listen(d)
      servers.push(listening)
      if (first === '') first = listening.url
      else second = listening.url
    }
  })
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.close()))
    await Promise.allSettled(started.map((s) => s.close()))
    await services?.drop()
  })

  const me = (base: string, token: string) =>
    fetch(`${base}/me`, { headers: { authorization: `Bearer ${token}` } })

  it('a logout on one instance is refused by both', async () => {
    const login = await fetch(`${first}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'demo', password }),
    })
    expect(login.status).toBe(200)
    const { access_token: token } = (await login.json()) as { access_token: string }
    expect((await me(first, token)).status).toBe(200)
    expect((await me(second, token)).status).toBe(200)

    const logout = await fetch(`${first}/logout`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
    })
    expect(logout.status).toBe(204)

    for (const base of [first, second]) {
      // the second instance hears of it through Redis pub/sub: poll briefly rather than sleep
      let res = await me(base, token)
      for (let i = 0; i < 40 && res.status === 200; i++) {
        await new Promise((resolve) => setTimeout(resolve, 50))
        res = await me(base, token)
      }
      expect(res.status).toBe(401)
      expect(((await res.json()) as { code: string }).code).toBe('token_revoked')
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer realm="api"/)
    }
  })

  it('merges the users table into the token: roles granted, unknown users refused', async () => {
    const [a] = started
    // no perms in the token: orders:read comes from the user's role
    const bare = a!.demo.signer.sign({ sub: 'user-42' })
    const stranger = a!.demo.signer.sign({ sub: 'nobody', perms: ['orders:read'] })
    for (const base of [first, second]) {
      const orders = await fetch(`${base}/orders`, { headers: { authorization: `Bearer ${bare}` } })
      expect(orders.status).toBe(200)
      const refused = await fetch(`${base}/orders`, {
        headers: { authorization: `Bearer ${stranger}` },
      })
      expect(refused.status).toBe(401)
      expect(((await refused.json()) as { code: string }).code).toBe('user_inactive')
    }
  })

  it('records the store layers in the metrics served at /metrics', async () => {
    // a subject no layer has seen: a miss in memory, then in Redis, then PostgreSQL answers
    const token = started[0]!.demo.signer.sign({ sub: `ghost-${Date.now()}` })
    const res = await fetch(`${second}/me`, { headers: { authorization: `Bearer ${token}` } })
    expect(res.status).toBe(401)
    const text = await (await fetch(`${second}/metrics`)).text()
    for (const layer of ['memory', 'redis']) {
      expect(text).toMatch(
        new RegExp(`authframework_layer_lookups_total\\{layer="${layer}",result="miss"\\} [1-9]`),
      )
    }
  })

  it('shows the state of PostgreSQL, the change log, the revocation list and Redis at /metrics', async () => {
    const text = await (await fetch(`${first}/metrics`)).text()
    const sample = (line: string) =>
      new RegExp(`^${line.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1]
    expect(sample('authframework_postgres_breaker_state{state="closed"}')).toBe('1')
    expect(sample('authframework_subscription_up{component="permissions"}')).toBe('1')
    expect(sample('authframework_subscription_up{component="revocation"}')).toBe('1')
    expect(sample('authframework_revocation_state{state="live"}')).toBe('1')
    expect(
      sample('authframework_redis_breaker_state{component="permissions",state="closed"}'),
    ).toBe('1')
    expect(Number(sample('authframework_change_log_lag_seconds'))).toBeLessThan(5)
    expect(text).toMatch(/^# TYPE authframework_postgres_pool_connections gauge$/m)
  })
})

portTakenTest(new URL('../src/index.ts', import.meta.url))
