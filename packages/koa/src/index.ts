import {
  type AdapterOptions,
  type Auth,
  type AuthContext,
  type AuthOptions,
  createGuard,
  errorResponse,
  isPromise,
  type Requirement,
  requestInput,
  setupAdapter,
} from '@authframework/core'
import type { Context, Middleware, Next } from 'koa'

declare module 'koa' {
  interface DefaultState {
    /** The verified caller; `undefined` on public routes and anonymous optional-mode requests. */
    auth?: AuthContext
  }
}

export type KoaAuthOptions = AuthOptions<Context> & AdapterOptions<Context>

type Fail = (error: unknown, ctx: Context) => void
/** Set by authMiddleware on each context, so that route guards use the same instance. */
const kAuth = Symbol('authframework.auth')
type Tagged = Context & { [kAuth]?: { auth: Auth<Context>; fail: Fail } }

function failWith(auth: Auth<Context>, propagate: boolean): Fail {
  return (error, ctx) => {
    const err = auth.toAuthError(error)
    if (propagate) throw err
    const { status, headers, body } = errorResponse(err)
    ctx.status = status
    ctx.set(headers)
    ctx.body = body
  }
}

/**
 * Authenticates every request and sets `ctx.state.auth`. Errors are answered with RFC 6750
 * headers and an RFC 9457 body, or thrown to upstream middleware with `errors: 'propagate'`.
 *
 * @example
 * app.use(authMiddleware({ algorithms: ['RS256'], publicKey: pem, audience: 'orders-api', unless: ['/health'] }))
 */
export function authMiddleware(
  options: KoaAuthOptions | Auth<Context>,
  adapterOptions?: AdapterOptions<Context>,
): Middleware {
  const { auth, skip, modeOf, propagate, usesPath } = setupAdapter(options, adapterOptions)
  const fail = failWith(auth, propagate)
  const handle = { auth, fail }
  return async function authenticate(ctx: Tagged, next: Next) {
    ctx[kAuth] = handle
    const path = usesPath ? ctx.path : '' // the path getter costs; only rules need it
    // Node's request directly: Koa's `ctx.method` and `ctx.headers` are getters over it
    const req = ctx.req
    const headers = req.headers
    if (skip(ctx, path, req, headers)) return next()
    try {
      const result = auth.authenticate(requestInput(req, ctx, headers), modeOf(ctx, path))
      ctx.state.auth = isPromise(result) ? await result : result
    } catch (error) {
      return fail(error, ctx)
    }
    return next()
  }
}

/**
 * Guards a route: every requirement must hold. Takes permission strings, `allOf`/`anyOf`/`not`,
 * and predicates `(auth, ctx) => boolean | Promise<boolean>`. 401 when anonymous, 403 when denied.
 *
 * @example
 * router.get('/orders', requirePermission('orders:read'), (ctx) => { ctx.body = ctx.state.auth })
 */
export function requirePermission(...requirements: Requirement<Context>[]): Middleware {
  const guard = createGuard(requirements)
  return async function checkPermission(ctx: Tagged, next: Next) {
    const handle = ctx[kAuth]
    if (handle === undefined) throw new Error('requirePermission needs authMiddleware first')
    const { auth, fail } = handle
    try {
      const result = auth.authorize(guard, ctx.state.auth, ctx)
      if (isPromise(result)) await result
    } catch (error) {
      return fail(error, ctx)
    }
    return next()
  }
}

export {
  type Auth,
  type AuthContext,
  AuthError,
  allOf,
  anyOf,
  createAuth,
  createSigner,
  not,
} from '@authframework/core'
