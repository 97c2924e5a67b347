import { describe, expect, it } from 'vitest'
import { AuthUnavailableError } from '../../src/errors.js'
import { createSessionHandler } from '../../src/handlers/session.js'
import type { AuthContext, SessionRecord, SessionSource } from '../../src/types.js'
import { authErrorOf, fakeClock, NOW_MS } from '../helpers.js'
import { INPUT } from './fixtures.js'

const SID = 'A'.repeat(43) // 256 bits of base64url
const LIVE: SessionRecord = { userId: 'u-1', expiresAt: NOW_MS + 60_000, permissions: ['a:read'] }

function setup(
  get: SessionSource['get'],
  resolvePermissions: (context: AuthContext) => AuthContext | Promise<AuthContext> = (c) => c,
) {
  const touched: string[] = []
  const handler = createSessionHandler({
    store: {
      get,
      touch: (id) => {
        touched.push(id)
        return Promise.reject(new Error('write failed')) // never fails the request
      },
    },
    clock: fakeClock().clock,
    resolvePermissions,
  })
  const run = (sessionId: string) => handler.authenticate({ kind: 'session', sessionId }, INPUT)
  return { run, touched }
}

describe('the session handler', () => {
  it('turns a live session into a context and records the activity', async () => {
    const { run, touched } = setup(async () => LIVE)
    await expect(run(SID)).resolves.toEqual({
      sub: 'u-1',
      claims: { sub: 'u-1', sid: SID },
      permissions: ['a:read'],
      expiresAt: Math.floor(LIVE.expiresAt / 1000),
    })
    expect(touched).toEqual([SID])
  })

  it('refuses an id that cannot be ours without asking the store', async () => {
    let asked = 0
    const { run } = setup(async () => {
      asked++
      return LIVE
    })
    for (const id of ['not base64url!', 'A'.repeat(129)]) {
      expect((await authErrorOf(() => run(id))).code).toBe('session_invalid')
    }
    expect(asked).toBe(0)
  })

  it('refuses unknown and expired sessions, and inactive users', async () => {
    expect((await authErrorOf(() => setup(async () => null).run(SID))).code).toBe('session_invalid')
    const expired = setup(async () => ({ ...LIVE, expiresAt: NOW_MS }))
    expect((await authErrorOf(() => expired.run(SID))).code).toBe('session_invalid')
    const inactive = setup(async () => ({ ...LIVE, userActive: false }))
    expect((await authErrorOf(() => inactive.run(SID))).code).toBe('user_inactive')
  })

  it('fails closed with 503 when the store cannot answer, and does not touch then', async () => {
    const down = setup(async () => {
      throw new Error('ECONNRESET')
    })
    expect(await authErrorOf(() => down.run(SID))).toMatchObject({
      code: 'auth_unavailable',
      status: 503,
      dependency: 'sessions',
    })
    const storeDown = setup(
      async () => LIVE,
      () => {
        throw new AuthUnavailableError('The permission store is unavailable.')
      },
    )
    expect((await authErrorOf(() => storeDown.run(SID))).code).toBe('auth_unavailable')
    expect(down.touched).toEqual([])
    expect(storeDown.touched).toEqual([])
  })
})
