import type {
  Authorize,
  MiddlewareArgs,
  MiddlewareOptions,
  Requirement,
  StepUpOptions,
} from '@authframework/core'
import { type AuthContext, createMiddlewareKit } from '@authframework/core'
import type { Request, RequestHandler, Response } from 'express'

declare global {
  namespace Express {
    interface Request {
      /** The verified caller; `undefined` on public routes and anonymous optional-mode requests. */
      auth?: AuthContext
    }
  }
}

const kit = createMiddlewareKit<Request, Response>({
  path: (req) => req.path,
  setAuth: (req, auth) => {
    req.auth = auth
  },
  respond: (res, { status, headers, body }) => {
    res.writeHead(status, headers).end(body)
  },
})

export type ExpressAuthOptions = MiddlewareOptions<Request>

/**
 * Authenticates every request and sets `req.auth`. Errors are answered with RFC 6750 headers and
 * an RFC 9457 body, or passed to `next(err)` with `errors: 'propagate'`.
 *
 * @example
 * app.use(authMiddleware({ algorithms: ['RS256'], publicKey: pem, audience: 'orders-api', unless: ['/health'] }))
 */
export function authMiddleware(...args: MiddlewareArgs<Request>): RequestHandler {
  const authenticate = kit.authenticator(...args)
  return function authenticateRequest(req, res, next) {
    authenticate(req, req, res, next)
  }
}

/**
 * Guards a route: every requirement must hold. Takes permission strings, `allOf`/`anyOf`/`not`,
 * and predicates `(auth, req) => boolean | Promise<boolean>`. 401 when anonymous, 403 when denied;
 * where no `authMiddleware` ran before it, the request fails (500).
 *
 * @example
 * app.get('/orders', requirePermission('orders:read'), (req, res) => res.json(req.auth))
 */
export function requirePermission(...requirements: Requirement<Request>[]): RequestHandler {
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
export function requireAuthentication(options: StepUpOptions): RequestHandler {
  return routeGuard(kit.stepUp(options))
}

function routeGuard(authorize: Authorize<Request, Response>): RequestHandler {
  return (req, res, next) => void authorize(req, req.auth, res, next)
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
