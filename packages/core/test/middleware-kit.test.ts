/** The middleware kit: route guards that find, per request, the adapter that authenticated it. */
import { describe, expect, it } from 'vitest'
import {
  type AuthContext,
  createMiddlewareKit,
  type ErrorResponse,
  type FrameworkHooks,
} from '../src/index.js'
import { AUDIENCE, claims, fakeClock, ISSUER, rsaKeyPair, signJwt } from './helpers.js'

const rsa = rsaKeyPair()

interface Req {
  auth?: AuthContext | undefined
  readonly raw: { readonly method: string; readonly headers: { authorization?: string } }
}
interface Res {
  answered?: ErrorResponse
}

const hooks: FrameworkHooks<Req, Res> = {
  path: () => '/',
  setAuth: (req, auth) => {
    req.auth = auth
  },
  respond: (res, response) => {
    res.answered = response
  },
}

const options = (realm: string) =>
  ({
    algorithms: ['RS256'],
    publicKey: rsa.publicPem,
    issuer: ISSUER,
    audience: AUDIENCE,
    realm,
    clock: fakeClock().clock,
  }) as const

function request(token: string): Req {
  return { raw: { method: 'GET', headers: { authorization: `Bearer ${token}` } } }
}

describe('createMiddlewareKit', () => {
  const kit = createMiddlewareKit<Req, Res>(hooks)
  const next = (error?: unknown) => error ?? 'next'

  it('judges a guard with the adapter that authenticated the request (its realm)', async () => {
    const token = await signJwt(claims({ perms: ['orders:read'] }), rsa.privateKey)
    const guard = kit.guard(['orders:write'])
    for (const realm of ['orders', 'billing']) {
      const authenticate = kit.authenticator(options(realm))
      const req = request(token)
      const res: Res = {}
      expect(authenticate(req, req.raw, res, next)).toBe('next')
      expect(req.auth?.sub).toBe('user-1')
      expect(guard(req, req.auth, res, next)).toBeUndefined() // answered
      expect(res.answered?.status).toBe(403)
      expect(res.answered?.headers['www-authenticate']).toContain(`realm="${realm}"`)
    }
    const req = request(token)
    kit.authenticator(options('orders'))(req, req.raw, {}, next)
    expect(kit.guard(['orders:read'])(req, req.auth, {}, next)).toBe('next')
  })

  it('throws where no authenticator of the kit ran on the request', async () => {
    const req = request(await signJwt(claims(), rsa.privateKey))
    const guard = kit.guard(['orders:read'])
    expect(() => guard(req, undefined, {}, next)).toThrow(
      'requirePermission needs authMiddleware first',
    )
    const other = createMiddlewareKit<Req, Res>(hooks) // another framework's kit
    other.authenticator(options('orders'))(req, req.raw, {}, next)
    expect(() => guard(req, req.auth, {}, next)).toThrow(/needs authMiddleware first/)
  })

  it("judges a step-up guard with the instance's clock and realm; bad options throw at once", async () => {
    const time = fakeClock()
    const authenticate = kit.authenticator({ ...options('bank'), clock: time.clock })
    const nowS = Math.floor(time.clock() / 1000)
    const token = await signJwt(claims({ acr: 'mfa', auth_time: nowS - 60 }), rsa.privateKey)
    const stepUp = kit.stepUp({ acrValues: ['mfa'], maxAgeSeconds: 120 })
    const req = request(token)
    authenticate(req, req.raw, {}, next)
    expect(stepUp(req, req.auth, {}, next)).toBe('next')
    time.advanceSeconds(61)
    const res: Res = {}
    expect(stepUp(req, req.auth, res, next)).toBeUndefined()
    expect(res.answered?.status).toBe(401)
    expect(res.answered?.headers['www-authenticate']).toBe(
      'Bearer realm="bank", error="insufficient_user_authentication", error_description="More recent authentication is required.", acr_values="mfa", max_age="120"',
    )
    expect(() => kit.stepUp({})).toThrow(TypeError)
    expect(() => stepUp(request(token), undefined, {}, next)).toThrow(
      'requireAuthentication needs authMiddleware first',
    )
  })
})
