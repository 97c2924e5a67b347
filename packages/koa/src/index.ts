import {
  type AuthContext,
  type Authorize,
  createMiddlewareKit,
  type MiddlewareArgs,
  type MiddlewareOptions,
  type Requirement,
  type StepUpOptions,
} from '@authframework/core'
import type { Context, Middleware } from 'koa'

declare module 'koa' {
  interface DefaultState {
    /** The verified caller; `undefined` on public routes and anonymous optional-mode requests. */
    auth?: AuthContext
  }
}

export type KoaAuthOptions = MiddlewareOptions<Context>

const kit = createMiddlewareKit<Context, Context>({
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
})

/**
 * Authenticates every request and sets `ctx.state.auth`. Errors are answered with RFC 6750
 * headers and an RFC 9457 body, or thrown to upstream middleware with `errors: 'propagate'`.
 *
 * @example
 * app.use(authMiddleware({ algorithms: ['RS256'], publicKey: pem, audience: 'orders-api', unless: ['/health'] }))
 */
export function authMiddleware(...args: MiddlewareArgs<Context>): Middleware {
  const authenticate = kit.authenticator(...args)
  // Node's request directly: Koa's `ctx.method` and `ctx.headers` are getters over it
  return (ctx, next) => authenticate(ctx, ctx.req, ctx, next)
}

/**
 * Guards a route: every requirement must hold. Takes permission strings, `allOf`/`anyOf`/`not`,
 * and predicates `(auth, ctx) => boolean | Promise<boolean>`. 401 when anonymous, 403 when denied;
 * where no `authMiddleware` ran before it, the request fails (500).
 *
 * @example
 * router.get('/orders', requirePermission('orders:read'), (ctx) => { ctx.body = ctx.state.auth })
 */
export function requirePermission(...requirements: Requirement<Context>[]): Middleware {
  return routeGuard(kit.guard(requirements))
}

/**
 * Step-up authentication (RFC 9470): the token's `acr` must be one of `acrValues`, its
 * `auth_time` at most `maxAgeSeconds` old. Otherwise 401 `insufficient_user_authentication` with
 * `acr_values` and `max_age` in the challenge; 401 when anonymous. Put it before
 * `requirePermission` on a route that has both.
 *
 * @example
 * router.post('/payments', requireAuthentication({ acrValues: ['mfa'] }), requirePermission('payments:write'), pay)
 */
export function requireAuthentication(options: StepUpOptions): Middleware {
  return routeGuard(kit.stepUp(options))
}

function routeGuard(authorize: Authorize<Context, Context>): Middleware {
  return (ctx, next) => authorize(ctx, ctx.state.auth, ctx, next)
}

export type { Auth, AuthContext, StepUpOptions } from '@authframework/core'
export {
  AuthError,
  allOf,
  anyOf,
  createAuth,
  createSigner,
  not,
  requireDpop,
} from '@authframework/core'
