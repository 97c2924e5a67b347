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
import type { NextFunction, Request, RequestHandler, Response } from 'express'

declare global {
  namespace Express {
    interface Request {
      /** The verified caller; `undefined` on public routes and anonymous optional-mode requests. */
      auth?: AuthContext
    }
  }
}

export type ExpressAuthOptions = AuthOptions<Request> & AdapterOptions<Request>

type Fail = (error: unknown, res: Response, next: NextFunction) => void
/**
 * The instance that authenticated each request, for the route guards after it. A WeakMap, not a
 * property of `req`: Express 5 gives every request its prototype anew, and a property added to
 * such an object costs V8 a new hidden class each time (≈ 17k instructions per request under
 * callgrind, against ≈ 2k for the map; bench/NOTES.md).
 */
const handles = new WeakMap<Request, { auth: Auth<Request>; fail: Fail }>()

function failWith(auth: Auth<Request>, propagate: boolean): Fail {
  return (error, res, next) => {
    const err = auth.toAuthError(error)
    if (propagate) return next(err)
    const { status, headers, body } = errorResponse(err)
    res.writeHead(status, headers).end(body)
  }
}

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
  const { auth, skip, modeOf, propagate, usesPath } = setupAdapter(options, adapterOptions)
  const fail = failWith(auth, propagate)
  const handle = { auth, fail }
  return function authenticate(req, res, next) {
    handles.set(req, handle)
    // each property read of an Express `req` is an inline cache miss (it changes hidden class on
    // every request): `headers` is read once, `method` only for would-be preflights
    const headers = req.headers
    const path = usesPath ? req.path : '' // the path getter costs; only rules need it
    if (skip(req, path, req, headers)) return next()
    let result: AuthContext | undefined | Promise<AuthContext | undefined>
    try {
      result = auth.authenticate(requestInput(req, req, headers), modeOf(req, path))
    } catch (error) {
      return fail(error, res, next)
    }
    if (!isPromise(result)) {
      req.auth = result
      return next()
    }
    result.then(
      (context) => {
        req.auth = context
        next()
      },
      (error: unknown) => fail(error, res, next),
    )
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
    const handle = handles.get(req)
    if (handle === undefined) return next(new Error('requirePermission needs authMiddleware first'))
    const { auth, fail } = handle
    let result: void | Promise<void>
    try {
      result = auth.authorize(guard, req.auth, req)
    } catch (error) {
      return fail(error, res, next)
    }
    if (!isPromise(result)) return next()
    result.then(
      () => next(),
      (error: unknown) => fail(error, res, next),
    )
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
