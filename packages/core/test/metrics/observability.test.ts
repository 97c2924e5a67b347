import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { describe, expect, it } from 'vitest'
import {
  type AuthError,
  type AuthOptions,
  allOf,
  CHANNELS,
  createAuth,
  createMetrics,
  createSigner,
  requestInput,
  type SecurityLogger,
} from '../../src/index.js'

const ISS = 'https://issuer.example'
const AUD = 'orders-api'
const SECRET = 'an-hmac-secret-of-more-than-thirty-two-bytes!!'
const signer = createSigner({ algorithm: 'HS256', secret: SECRET, issuer: ISS, audience: AUD })

/** The HS256 instance the tests start from, with their own options on top. */
const hsAuth = (extra: Omit<AuthOptions, 'algorithms' | 'secret'> = {}) =>
  createAuth({ algorithms: ['HS256'], secret: SECRET, issuer: ISS, audience: AUD, ...extra })

function capture() {
  const lines: { level: string; object: Record<string, unknown>; message?: string }[] = []
  const logger: SecurityLogger = {
    info: (object, message) => lines.push({ level: 'info', object, message }),
    warn: (object, message) => lines.push({ level: 'warn', object, message }),
    error: (object, message) => lines.push({ level: 'error', object, message }),
  }
  return { lines, logger }
}

const input = (authorization?: string) =>
  requestInput({
    headers: { authorization },
    rawHeaders: authorization ? ['Authorization', authorization] : [],
    socket: { remoteAddress: '203.0.113.9' },
  })

/** Runs a call that may throw synchronously or reject, and returns its error (or result). */
const settle = async (call: () => unknown) => {
  try {
    return await call()
  } catch (e) {
    return e as AuthError
  }
}

describe('metrics', () => {
  it('counts outcomes, cache hits, decisions and infrastructure errors, and measures latency', async () => {
    const metrics = createMetrics()
    const auth = hsAuth({
      metrics,
    })
    const token = signer.sign({ sub: 'u1', perms: ['orders:read'] })
    for (let i = 0; i < 5; i++) await settle(() => auth.authenticate(input(`Bearer ${token}`)))
    await settle(() => auth.authenticate(input()))
    await settle(() => auth.authenticate(input('Bearer a.b.c')))
    const guard = auth.guard(allOf('orders:read', 'orders:write'))
    const ctx = await auth.verify(token)
    await settle(() => auth.authorize(guard, ctx, {}))
    await settle(() => auth.authorize(auth.guard('orders:read'), ctx, {}))

    const down = hsAuth({
      metrics,
      permissions: { store: () => Promise.reject(new Error('ECONNREFUSED')) },
    })
    await settle(() => down.authenticate(input(`Bearer ${token}`)))

    const snap = auth.metrics()!
    expect(snap.authentications).toMatchObject({
      ok: 6,
      credentials_missing: 1,
      token_invalid: 1,
      auth_unavailable: 1,
    })
    // misses: the token once, a.b.c, the store-down instance (which shares the metrics); hits: 4 + verify()
    expect(snap.verificationCache).toEqual({ hits: 5, misses: 3 })
    expect(snap.decisions).toEqual({
      'orders:read orders:write': { allow: 0, deny: 1 },
      'orders:read': { allow: 1, deny: 0 },
    })
    expect(snap.infrastructureErrors.permissions).toBe(1)
    expect(snap.latency.authenticate.count).toBe(9)
    expect(snap.latency.authenticate.p99).toBeGreaterThan(0)
    expect(snap.latency.verify.count).toBe(2)
    expect(snap.latency.permissions.count).toBe(0)
    // labels never carry user ids or tokens
    expect(JSON.stringify(snap)).not.toContain('u1')
    expect(JSON.stringify(snap)).not.toContain(token.slice(0, 20))
  })

  it('can be turned off', async () => {
    const auth = createAuth({
      algorithms: ['HS256'],
      secret: SECRET,
      audience: AUD,
      metrics: false,
    })
    expect(auth.metrics()).toBeUndefined()
  })
})

describe('diagnostics channels', () => {
  it('publishes authenticate and verify events without the token', async () => {
    const events: { name: string; message: unknown }[] = []
    const listeners = Object.values(CHANNELS).map((name) => {
      const fn = (message: unknown) => events.push({ name, message })
      subscribe(name, fn)
      return [name, fn] as const
    })
    try {
      const signer = createSigner({ algorithm: 'HS256', secret: SECRET, audience: AUD })
      const auth = createAuth({ algorithms: ['HS256'], secret: SECRET, audience: AUD })
      const token = signer.sign({ sub: 'u1' })
      await auth.authenticate(input(`Bearer ${token}`))
      expect(events.map((e) => e.name)).toEqual([CHANNELS.verify, CHANNELS.authenticate])
      expect(events[1]!.message).toMatchObject({
        outcome: 'ok',
        sub: 'u1',
        durationMs: expect.any(Number),
      })
      expect(events[0]!.message).toMatchObject({ alg: 'HS256', sub: 'u1' })
      expect(JSON.stringify(events)).not.toContain(token)
    } finally {
      for (const [name, fn] of listeners) unsubscribe(name, fn)
    }
  })
})

describe('security log', () => {
  it('logs failures with code and client address, and never a token, secret, password or header', async () => {
    const { lines, logger } = capture()
    const password = 'correct horse battery staple'
    const auth = hsAuth({
      logger,
      basic: { verify: async ({ password: p }) => (p === 'nope' ? { sub: 'x' } : null) },
      permissions: {
        store: async (sub) => {
          if (sub === 'down')
            throw Object.assign(new Error(`connect to postgres://app:${password}@db failed`), {
              code: 'ECONNREFUSED',
            })
          return sub === 'gone' ? null : { permissions: [] }
        },
      },
    })
    const tokens = [
      signer.sign({ sub: 'u1' }, { ttlSeconds: -10 }),
      signer.sign({ sub: 'gone' }),
      signer.sign({ sub: 'down' }),
      `${signer.sign({ sub: 'u1' })}x`,
    ]
    const headers = [
      ...tokens.map((t) => `Bearer ${t}`),
      `Basic ${Buffer.from(`alice:${password}`).toString('base64')}`,
      'Basic !!!',
      `Bearer ${tokens[0]} ${tokens[1]}`,
      undefined,
    ]
    for (const h of headers)
      expect(await settle(() => auth.authenticate(input(h)))).toHaveProperty('code')
    await auth.revoke({ token: tokens[1]! })

    const text = JSON.stringify(lines)
    for (const t of tokens) expect(text).not.toContain(t.slice(0, 30))
    expect(text).not.toContain(password)
    expect(text).not.toContain(SECRET)
    expect(text).not.toContain(Buffer.from(`alice:${password}`).toString('base64'))
    expect(text.toLowerCase()).not.toContain('bearer')
    expect(lines.map((l) => l.object.code ?? l.object.event)).toEqual([
      'token_expired',
      'user_inactive',
      'auth_unavailable',
      'token_invalid',
      'credentials_invalid',
      'invalid_request',
      'invalid_request',
      'credentials_missing',
      'revocation',
    ])
    expect(lines[0]!.object).toMatchObject({
      event: 'auth_failure',
      clientAddress: '203.0.113.9',
      status: 401,
    })
    expect(lines[2]).toMatchObject({
      level: 'error',
      object: { dependency: 'permissions', cause: { name: 'Error', code: 'ECONNREFUSED' } },
    })
  })

  it('logs the peer address of an asynchronous failure even when the client hung up meanwhile', async () => {
    const { lines, logger } = capture()
    let release: () => void = () => {}
    const auth = hsAuth({
      logger,
      permissions: {
        store: () =>
          new Promise((_, reject) => {
            release = () => reject(Object.assign(new Error('down'), { code: 'ECONNREFUSED' }))
          }),
      },
    })
    const socket: { remoteAddress?: string } = { remoteAddress: '198.51.100.20' }
    const token = signer.sign({ sub: 'u1' })
    const pending = settle(() =>
      auth.authenticate(
        requestInput({
          headers: { authorization: `Bearer ${token}` },
          rawHeaders: ['Authorization', `Bearer ${token}`],
          socket,
        }),
      ),
    )
    // a destroyed socket no longer knows its peer
    delete socket.remoteAddress
    release()
    expect(await pending).toHaveProperty('code', 'auth_unavailable')
    expect(lines).toHaveLength(1)
    expect(lines[0]!.object).toMatchObject({
      code: 'auth_unavailable',
      clientAddress: '198.51.100.20',
    })
  })

  it('reads the peer address only when a failure is logged', async () => {
    const auth = hsAuth()
    const token = signer.sign({ sub: 'u1' })
    let reads = 0
    const socket = {
      get remoteAddress() {
        reads++
        return '198.51.100.21'
      },
    }
    const headers = { authorization: `Bearer ${token}` }
    await auth.authenticate(
      requestInput({ headers, rawHeaders: ['authorization', headers.authorization], socket }),
    )
    expect(reads).toBe(0)
    await settle(() =>
      auth.authenticate(requestInput({ headers: { authorization: 'Bearer x' }, socket })),
    )
    expect(reads).toBe(1)
  })

  it('the other failure paths (revoked, not yet valid, session, 403, throwing predicate) leak nothing either', async () => {
    const { lines, logger } = capture()
    const sid = 'c2Vzc2lvbi1pZC1vZi0yNTYtYml0cy1yYW5kb20tZGF0YQ'
    const auth = hsAuth({
      logger,
      sessions: { store: { get: async () => null } },
    })
    const revoked = signer.sign({ sub: 'u1' })
    await auth.revoke({ token: revoked })
    const early = signer.sign({ sub: 'u1', nbf: Math.floor(Date.now() / 1000) + 3600 })
    for (const h of [`Bearer ${revoked}`, `Bearer ${early}`]) {
      expect(await settle(() => auth.authenticate(input(h)))).toHaveProperty('code')
    }
    expect(
      await settle(() => auth.authenticate(requestInput({ headers: { cookie: `sid=${sid}` } }))),
    ).toHaveProperty('code', 'session_invalid')
    const ctx = await auth.verify(signer.sign({ sub: 'u1', perms: ['a'] }))
    await settle(() => auth.authorize(auth.guard('orders:write'), ctx, {}))
    await settle(() =>
      auth.authorize(
        auth.guard(() => {
          throw new Error(`lookup with ${SECRET} failed`)
        }),
        ctx,
        {},
      ),
    )
    expect(lines.map((l) => l.object.code ?? l.object.event)).toEqual([
      'revocation',
      'token_revoked',
      'token_not_yet_valid',
      'session_invalid',
      'permission_denied',
      'auth_unavailable',
    ])
    const text = JSON.stringify(lines)
    for (const secretThing of [revoked.slice(0, 30), early.slice(0, 30), sid, SECRET]) {
      expect(text).not.toContain(secretThing)
    }
  })

  it('bounds a flood of failures', async () => {
    const { lines, logger } = capture()
    let now = 1_000_000
    const auth = createAuth({
      algorithms: ['HS256'],
      secret: SECRET,
      audience: AUD,
      logger,
      clock: () => now,
    })
    for (let i = 0; i < 500; i++) await settle(() => auth.authenticate(input('Bearer x.y.z')))
    expect(lines).toHaveLength(50)
    now += 1000
    await settle(() => auth.authenticate(input('Bearer x.y.z')))
    expect(lines[50]!.object).toEqual({ event: 'auth_failures_suppressed', count: 450 })
    expect(lines).toHaveLength(52)
  })
})
