import {
  type AuthContext,
  type Authorize,
  createMiddlewareKit,
  errorResponse,
  fetchRequestLike,
  type MiddlewareArgs,
  type MiddlewareOptions,
  type NodeRequestLike,
  type Requirement,
  type StepUpOptions,
} from '@authframework/core'
import type { Context, MiddlewareHandler } from 'hono'
import { HTTPException } from 'hono/http-exception'
import type { ContentfulStatusCode } from 'hono/utils/http-status'

declare module 'hono' {
  interface ContextVariableMap {
    /** The verified caller; `undefined` on public routes and anonymous optional-mode requests. */
    auth: AuthContext | undefined
  }
}

export type HonoAuthOptions = MiddlewareOptions<Context>

/**
 * Node's request under `@hono/node-server` (`c.env.incoming`): the same input as the other
 * adapters, repeated `Authorization` headers included. Elsewhere (`app.request()`, other
 * runtimes) the Fetch request.
 */
function rawOf(c: Context): NodeRequestLike {
  return (
    (c.env as { incoming?: NodeRequestLike } | undefined)?.incoming ?? fetchRequestLike(c.req.raw)
  )
}

const kit = createMiddlewareKit<Context, Context>({
  path: (c) => c.req.path,
  setAuth: (c, auth) => {
    c.set('auth', auth)
  },
  respond: (c, { status, headers, body }) => {
    c.res = new Response(body, { status, headers })
  },
  // Hono's error handling (`app.onError`) sees an HTTPException whose response is the answer the
  // adapter would send, so that an application without a handler still answers 401/403/503
  propagate: (error) => {
    const { status, headers, body } = errorResponse(error)
    throw new HTTPException(error.status as ContentfulStatusCode, {
      res: new Response(body, { status, headers }),
      message: error.message,
      cause: error,
    })
  },
})

/** What a middleware returns when it has answered (`c.res` is set) without calling `next`. */
const ANSWERED: Promise<void> = Promise.resolve()

/**
 * Hono middleware that authenticates each request and puts the caller in `c.get('auth')`. A
 * failure is answered at once (RFC 6750 challenge, RFC 9457 problem), or, with
 * `errors: 'propagate'`, thrown as an `HTTPException` (`cause`: the `AuthError`) for `app.onError`.
 *
 * @example
 * app.use(authMiddleware({ algorithms: ['ES256'], jwksUri: 'https://issuer.example/jwks', unless: ['/health'] }))
 */
export function authMiddleware(...args: MiddlewareArgs<Context>): MiddlewareHandler {
  const authenticate = kit.authenticator(...args)
  // next()'s own promise on the cached path: no async frame of ours per request
  return (c, next) => (authenticate(c, rawOf(c), c, next) ?? ANSWERED) as Promise<void>
}

/**
 * A route middleware that lets the request on only when all the requirements hold: permission
 * strings, `allOf`/`anyOf`/`not`, predicates `(auth, c) => boolean | Promise<boolean>`. Anonymous
 * callers get 401, callers without the permissions 403.
 *
 * @example
 * app.get('/orders/:id', requirePermission(anyOf('admin', (auth, c) => auth.sub === c.req.param('id'))), handler)
 */
export function requirePermission(...requirements: Requirement<Context>[]): MiddlewareHandler {
  return routeGuard(kit.guard(requirements))
}

/**
 * Step-up authentication (RFC 9470): the token's `acr` must be one of `acrValues`, its
 * `auth_time` at most `maxAgeSeconds` old. Otherwise 401 `insufficient_user_authentication` with
 * `acr_values` and `max_age` in the challenge; 401 when anonymous. Put it before
 * `requirePermission` on a route that has both.
 *
 * @example
 * app.post('/payments', requireAuthentication({ acrValues: ['mfa'], maxAgeSeconds: 300 }), requirePermission('payments:write'), pay)
 */
export function requireAuthentication(options: StepUpOptions): MiddlewareHandler {
  return routeGuard(kit.stepUp(options))
}

function routeGuard(authorize: Authorize<Context, Context>): MiddlewareHandler {
  return (c, next) => (authorize(c, c.get('auth'), c, next) ?? ANSWERED) as Promise<void>
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
