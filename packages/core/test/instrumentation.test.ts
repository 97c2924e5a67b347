import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { afterEach, describe, expect, it } from 'vitest'
import {
  AuthUnavailableError,
  CHANNELS,
  createMetrics,
  PermissionDeniedError,
  TokenExpiredError,
} from '../src/index.js'
import { createInstrumentation } from '../src/instrumentation.js'
import type { SecurityLogger } from '../src/logging.js'
import type { AuthContext, RequestInput } from '../src/types.js'
import { fakeClock } from './helpers.js'

const CONTEXT: AuthContext = { sub: 'u-1', claims: { sub: 'u-1' }, permissions: [] }
const INPUT: RequestInput = { authorization: 'Bearer x', clientAddress: '192.0.2.7' }

function setup(basic = false) {
  const lines: { level: string; object: Record<string, unknown> }[] = []
  const line = (level: string) => (object: Record<string, unknown>) => lines.push({ level, object })
  const logger: SecurityLogger = { info: line('info'), warn: line('warn'), error: line('error') }
  const metrics = createMetrics()
  const instrument = createInstrumentation({
    metrics,
    logger,
    clock: fakeClock().clock,
    realm: 'orders',
    basic,
  })
  return { instrument, metrics, lines }
}

const published: { channel: string; message: unknown }[] = []
const listeners = Object.values(CHANNELS).map((name) => {
  const listener = (message: unknown) => published.push({ channel: name, message })
  return [name, listener] as const
})

afterEach(() => {
  for (const [name, listener] of listeners) unsubscribe(name, listener)
  published.length = 0
})

describe('settle', () => {
  it('returns a synchronous result as is, counted as ok', () => {
    const { instrument, metrics, lines } = setup()
    expect(instrument.settle(() => CONTEXT, INPUT)).toBe(CONTEXT)
    expect(instrument.settle(() => undefined, INPUT)).toBeUndefined()
    expect(metrics.snapshot().authentications).toMatchObject({ ok: 1, anonymous: 1 })
    expect(lines).toEqual([])
  })

  it('turns a synchronous failure into an AuthError with the realm, counted and logged', () => {
    const { instrument, metrics, lines } = setup()
    let thrown: unknown
    try {
      instrument.settle(() => {
        throw new TokenExpiredError()
      }, INPUT)
    } catch (error) {
      thrown = error
    }
    expect(thrown).toMatchObject({ code: 'token_expired', realm: 'orders' })
    expect(metrics.snapshot().authentications).toMatchObject({ token_expired: 1 })
    expect(lines).toHaveLength(1)
    expect(lines[0]?.object).toMatchObject({ code: 'token_expired', clientAddress: '192.0.2.7' })
  })

  it('settles a promise the same way, and counts a dependency failure', async () => {
    const { instrument, metrics } = setup()
    await expect(instrument.settle(async () => CONTEXT, INPUT)).resolves.toBe(CONTEXT)
    const failing = instrument.settle(async () => {
      throw new AuthUnavailableError('down', { dependency: 'revocation' })
    }, INPUT)
    await expect(failing).rejects.toMatchObject({ code: 'auth_unavailable', realm: 'orders' })
    const snapshot = metrics.snapshot()
    expect(snapshot.authentications).toMatchObject({ ok: 1, auth_unavailable: 1 })
    expect(snapshot.infrastructureErrors).toMatchObject({ revocation: 1 })
  })

  it('publishes each outcome on the authenticate channel while someone listens', () => {
    const { instrument } = setup()
    instrument.settle(() => CONTEXT)
    expect(published).toEqual([])
    for (const [name, listener] of listeners) subscribe(name, listener)
    instrument.settle(() => CONTEXT)
    instrument.verified('RS256', 1.5, 'u-1')
    instrument.permissions(2)
    expect(published.map((p) => p.channel)).toEqual([
      CHANNELS.authenticate,
      CHANNELS.verify,
      CHANNELS.permissions,
    ])
    expect(published[0]?.message).toMatchObject({ outcome: 'ok', sub: 'u-1' })
    expect(published[1]?.message).toEqual({ alg: 'RS256', durationMs: 1.5, sub: 'u-1' })
  })
})

describe('toAuthError', () => {
  it('keeps an AuthError, wraps anything else as token_invalid, and sets the challenge', () => {
    const { instrument } = setup(true)
    const denied = new PermissionDeniedError()
    expect(instrument.toAuthError(denied)).toBe(denied)
    expect(denied).toMatchObject({ realm: 'orders', basic: true })
    const wrapped = instrument.toAuthError(new Error('boom'))
    expect(wrapped).toMatchObject({ code: 'token_invalid', status: 401 })
    expect(wrapped.cause).toBeInstanceOf(Error)
  })
})

describe('guard decisions', () => {
  it('counts allows and refusals; a throwing predicate is a 503, logged', () => {
    const { instrument, metrics, lines } = setup()
    instrument.allowed('orders:read')
    expect(instrument.refused('orders:read', new PermissionDeniedError()).code).toBe(
      'permission_denied',
    )
    expect(instrument.refused('custom', new Error('predicate threw'))).toMatchObject({
      code: 'auth_unavailable',
      dependency: 'permissions',
      realm: 'orders',
    })
    const snapshot = metrics.snapshot()
    expect(snapshot.decisions).toMatchObject({
      'orders:read': { allow: 1, deny: 1 },
      custom: { allow: 0, deny: 1 },
    })
    expect(snapshot.infrastructureErrors).toMatchObject({ permissions: 1 })
    expect(lines).toHaveLength(2)
  })

  it('logs revocations without the token', () => {
    const { instrument, lines } = setup()
    instrument.revoked({ kind: 'token', tokenHash: 'h', expiresAt: 1 })
    expect(lines).toEqual([
      { level: 'info', object: { event: 'revocation', kind: 'token', expiresAt: 1 } },
    ])
  })
})
