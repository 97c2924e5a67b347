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
import type { Request, RequestHandler, Response } from 'express'

declare global {
  namespace Express {
    interface Request {
      /** The verified caller; `undefined` on public routes and anonymous optional-mode requests. */
      auth?: AuthContext
    }
  }
}

export type ExpressAuthOptions = MiddlewareOptions<Request>

const hooks: FrameworkHooks<Request, Response> = {
  path: (req) => req.path,
  setAuth: (req, auth) => {
    req.auth = auth
  },
  respond: (res, { status, headers, body }) => {
    res.writeHead(status, headers).end(body)
  },
}

/**
 * The middleware that authenticated each request, for the route guards after it. A WeakMap rather
 * than a property of `req`, so that the request object keeps its shape.
 */
const adapters = new WeakMap<Request, Adapter<Request, Response>>()

/**
 * Authenticates every request and sets `req.auth`. Errors are answered with RFC 6750 headers and
 * an RFC 9457 body, or passed to `next(err)` with `errors: 'propagate'`.
 *
 * @example
 * app.use(authMiddleware({ algorithms: ['RS256'], publicKey: pem, audience: 'orders-api', unless: ['/health'] }))
 */
export function authMiddleware(
  options: ExpressAuthOptions | Auth<Request>,
  adapterOptions?: AdapterOptions<Request>,
): RequestHandler {
  const adapter = createAdapter(options, adapterOptions, hooks)
  return function authenticate(req, res, next) {
    adapters.set(req, adapter)
    adapter.authenticate(req, req, res, next)
  }
}

/**
 * Guards a route: every requirement must hold. Takes permission strings, `allOf`/`anyOf`/`not`,
 * and predicates `(auth, req) => boolean | Promise<boolean>`. 401 when anonymous, 403 when denied.
 *
 * @example
 * app.get('/orders', requirePermission('orders:read'), (req, res) => res.json(req.auth))
 */
export function requirePermission(...requirements: Requirement<Request>[]): RequestHandler {
  const guard = createGuard(requirements)
  return function checkPermission(req, res, next) {
    const adapter = adapters.get(req)
    if (adapter === undefined)
      return next(new Error('requirePermission needs authMiddleware first'))
    adapter.authorize(guard, req.auth, req, res, next)
  }
}

export type { Auth, AuthContext } from '@authframework/core'
export { AuthError, allOf, anyOf, createAuth, createSigner, not } from '@authframework/core'
