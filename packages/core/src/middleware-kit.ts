/**
 * What the adapters whose route guards are middleware of their own (Express, Koa, Hono) share: a
 * guard is created apart from any `authMiddleware`, so it finds, per request, the adapter that
 * authenticated the request, and answers with that instance's realm and error mode.
 */
import {
  type Adapter,
  type AdapterOptions,
  createAdapter,
  type FrameworkHooks,
  type MiddlewareOptions,
  type Next,
  type NodeRequestHead,
} from './adapter.js'
import type { Auth } from './authenticate.js'
import { createGuard, type Guard } from './permissions/guard.js'
import type { Requirement } from './permissions/predicates.js'
import { createStepUpGuard, type StepUpOptions } from './permissions/step-up.js'
import type { NodeRequestLike } from './request.js'
import type { AuthContext } from './types.js'
import type { MaybePromise } from './util.js'

/**
 * What `authMiddleware` takes: the core options with the adapter options mixed in, or a
 * `createAuth` instance; adapter options may also come second.
 */
export type MiddlewareArgs<Req> = [
  options: MiddlewareOptions<Req> | Auth<Req>,
  adapterOptions?: AdapterOptions<Req>,
]

/** One request through `authMiddleware`: the framework's request, Node's, the response, `next`. */
export type Authenticate<Req, Res> = <R>(
  request: Req,
  raw: NodeRequestLike & NodeRequestHead,
  res: Res,
  next: Next<R>,
) => MaybePromise<R | undefined>

/** One request through a route guard: the request, its caller, the response, `next`. */
export type Authorize<Req, Res> = <R>(
  request: Req,
  auth: AuthContext | undefined,
  res: Res,
  next: Next<R>,
) => MaybePromise<R | undefined>

/**
 * `authMiddleware`, `requirePermission` and `requireAuthentication` of one framework, without the
 * framework's signatures.
 */
export interface MiddlewareKit<Req extends object, Res> {
  /** The middleware of one set of options; it notes itself on each request it authenticates. */
  authenticator(...args: MiddlewareArgs<Req>): Authenticate<Req, Res>
  /**
   * A route guard: every requirement must hold, judged by the adapter that authenticated the
   * request. Throws (the framework answers 500) where no `authMiddleware` ran before it.
   */
  guard(requirements: readonly Requirement<Req>[]): Authorize<Req, Res>
  /**
   * A step-up route guard (RFC 9470, see `createStepUpGuard`), judged like {@link guard}. Throws
   * `TypeError` at once for bad options.
   */
  stepUp(options: StepUpOptions): Authorize<Req, Res>
}

/**
 * The middleware kit of one framework, over its hooks (see `createAdapter`).
 *
 * @example
 * const kit = createMiddlewareKit<Request, Response>({ path: (req) => req.path, setAuth, respond })
 * const authenticate = kit.authenticator(options)
 * app.use((req, res, next) => { authenticate(req, req, res, next) })
 */
export function createMiddlewareKit<Req extends object, Res>(
  hooks: FrameworkHooks<Req, Res>,
): MiddlewareKit<Req, Res> {
  // A WeakMap rather than a property of the request, so that the request object keeps its shape.
  const adapters = new WeakMap<Req, Adapter<Req, Res>>()
  function authorizer(guard: Guard<Req>, name: string): Authorize<Req, Res> {
    return (request, auth, res, next) => {
      const adapter = adapters.get(request)
      if (adapter === undefined) throw new Error(`${name} needs authMiddleware first`)
      return adapter.authorize(guard, auth, request, res, next)
    }
  }
  return {
    authenticator(options, adapterOptions) {
      const adapter = createAdapter<Req, Res>(options, adapterOptions, hooks)
      return (request, raw, res, next) => {
        adapters.set(request, adapter)
        return adapter.authenticate(request, raw, res, next)
      }
    },
    guard: (requirements) => authorizer(createGuard(requirements), 'requirePermission'),
    stepUp: (options) => authorizer(createStepUpGuard(options), 'requireAuthentication'),
  }
}
