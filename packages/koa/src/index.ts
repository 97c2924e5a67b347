import {
  type Adapter,
  type AdapterOptions,
  type Auth,
  type AuthContext,
  createAdapter,
  createGuard,
  type FrameworkHooks,
  type MiddlewareOptions,
  type Requirement,
} from '@authframework/core'
import type { Context, Middleware, Next } from 'koa'

declare module 'koa' {
  interface DefaultState {
    /** The verified caller; `undefined` on public routes and anonymous optional-mode requests. */
    auth?: AuthContext
  }
}

export type KoaAuthOptions = MiddlewareOptions<Context>

const hooks: FrameworkHooks<Context, Context> = {
  path: (ctx) => ctx.path,
  setAuth: (ctx, auth) => {
    ctx.state.auth = auth
  },
  respond: (ctx, { status, headers, body }) => {
    ctx.status = status
    ctx.set(headers)
    ctx.body = body
  },
  // Koa middleware signals an error by throwing it to the middleware upstream
  propagate: (error) => {
    throw error
  },
}

/** Set by authMiddleware on each context, so that route guards use the same instance. */
const kAdapter = Symbol('authframework.adapter')
type Tagged = Context & { [kAdapter]?: Adapter<Context, Context> }

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
  const adapter = createAdapter(options, adapterOptions, hooks)
  return function authenticate(ctx: Tagged, next: Next) {
    ctx[kAdapter] = adapter
    // Node's request directly: Koa's `ctx.method` and `ctx.headers` are getters over it
    return adapter.authenticate(ctx, ctx.req, ctx, next)
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
  return function checkPermission(ctx: Tagged, next: Next) {
    const adapter = ctx[kAdapter]
    if (adapter === undefined) throw new Error('requirePermission needs authMiddleware first')
    return adapter.authorize(guard, ctx.state.auth, ctx, ctx, next)
  }
}

export type { Auth, AuthContext } from '@authframework/core'
export { AuthError, allOf, anyOf, createAuth, createSigner, not } from '@authframework/core'
