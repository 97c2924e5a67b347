import type { MiddlewareArgs, MiddlewareOptions, Requirement } from '@authframework/core'
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
  const authorize = kit.guard(requirements)
  return (req, res, next) => void authorize(req, req.auth, res, next)
}

export type { Auth, AuthContext } from '@authframework/core'
export {
  AuthError,
  allOf,
  anyOf,
  createAuth,
  createSigner,
  not,
  requireDpop,
} from '@authframework/core'
