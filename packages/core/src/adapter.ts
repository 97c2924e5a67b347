import { type Auth, createAuth } from './authenticate.js'
import type { AuthError } from './errors.js'
import { type AuthOptions, OPTION_NAMES } from './options/types.js'
import type { Guard } from './permissions/guard.js'
import { type NodeRequestLike, requestInput } from './request.js'
import { type ErrorResponse, errorResponse } from './response.js'
import { createPathMatcher, type PathRule } from './skip.js'
import type { AuthContext } from './types.js'
import { isPromise, type MaybePromise } from './util.js'

/** Options every adapter takes besides the core's. */
export interface AdapterOptions<Req = unknown> {
  /** Requests that skip authentication: public paths, or a predicate over the request. */
  unless?: readonly PathRule[] | ((request: Req) => boolean)
  /**
   * Requests where credentials are optional (in `required` mode): no credentials is an anonymous
   * request, bad credentials are still refused. Paths, or a predicate over the request.
   */
  optional?: readonly PathRule[] | ((request: Req) => boolean)
  /**
   * `respond` (default): the adapter answers errors itself with the problem body.
   * `propagate`: the `AuthError` (with `status`, `headers`, `toProblem()`) goes to the framework's
   * error handling (`next(err)`, a thrown error, Fastify's error handler).
   */
  errors?: 'respond' | 'propagate'
}

/** The names of {@link AdapterOptions}: the only options accepted beside a prebuilt instance. */
const ADAPTER_OPTION_NAMES: ReadonlySet<string> = new Set(['unless', 'optional', 'errors'])

/**
 * A prebuilt `createAuth` instance with adapter options (Fastify's `register(authPlugin, { auth })`).
 * The core options belong to `createAuth`: beside an instance they are a type error, and a
 * TypeError at run time, instead of being dropped silently.
 */
export type PrebuiltAuthOptions<Req = unknown> = {
  readonly auth: Auth<Req>
} & AdapterOptions<Req> & {
    readonly [K in keyof AuthOptions<Req>]?: never
  }

/** What an adapter needs from its options, resolved once when the middleware is created. */
export interface AdapterSetup<Req> {
  readonly auth: Auth<Req>
  /** True when the adapter built the instance from options: then closing it is the adapter's job. */
  readonly owned: boolean
  /**
   * True for requests that skip authentication: CORS preflights and the `unless` rules. `raw` is
   * Node's request and `headers` its headers, read once by the caller and passed on to
   * `requestInput` too.
   */
  readonly skip: (request: Req, path: string, raw: NodeRequestHead, headers: NodeHeaders) => boolean
  /** The mode for this request: `optional` on the `optional` routes, else the instance's. */
  readonly modeOf: (request: Req, path: string) => 'required' | 'optional'
  readonly propagate: boolean
  /** False when no rule looks at the path: the adapter need not compute it. */
  readonly usesPath: boolean
}

function isAuth(value: unknown): value is Auth<never> {
  return typeof (value as Auth | undefined)?.authenticate === 'function'
}

type RequestRule<Req> = (request: Req, path: string) => boolean

/** Compiles `unless` / `optional`: paths (a Set lookup, prefixes, RegExps) or a predicate. */
function compileRule<Req>(
  name: string,
  rule: readonly PathRule[] | ((request: Req) => boolean) | undefined,
): RequestRule<Req> | undefined {
  if (rule === undefined) return undefined
  if (typeof rule === 'function') return (request) => rule(request) === true
  if (Array.isArray(rule)) {
    const matches = createPathMatcher(rule)
    return (_request, path) => matches(path)
  }
  throw new TypeError(`authMiddleware: ${name}: expected an array of paths or a function`)
}

/**
 * Refuses anything but adapter options where only they are accepted: beside a prebuilt instance
 * (`where` names the place), or in the adapter options argument.
 */
function checkAdapterOnly(options: object, where: string): void {
  for (const name of Object.keys(options)) {
    if (ADAPTER_OPTION_NAMES.has(name)) continue
    throw new TypeError(
      (OPTION_NAMES as readonly string[]).includes(name)
        ? `authMiddleware: ${name}: a core option cannot be given ${where}; pass it to createAuth(), or pass the options instead of the instance.`
        : `authMiddleware: ${name}: unknown option ${where}; the options accepted there are unless, optional and errors.`,
    )
  }
}

/**
 * Accepts a prebuilt `createAuth` instance (plus adapter options, as a second argument or as
 * `{ auth, ...adapterOptions }`) or the core options with the adapter options mixed in, and
 * resolves both once. Core options beside an instance are a TypeError, never silently dropped.
 */
export function setupAdapter<Req>(
  input: Auth<Req> | PrebuiltAuthOptions<Req> | (AuthOptions<Req> & AdapterOptions<Req>),
  extra?: AdapterOptions<Req>,
): AdapterSetup<Req> {
  let auth: Auth<Req>
  let adapter: AdapterOptions<Req>
  let owned = false
  if (extra !== undefined) {
    if (extra === null || typeof extra !== 'object') {
      throw new TypeError(
        'authMiddleware: adapter options: expected an object, e.g. { unless: [...] }',
      )
    }
    checkAdapterOnly(extra, 'in the adapter options')
  }
  if (isAuth(input)) {
    auth = input as Auth<Req>
    adapter = extra ?? {}
  } else {
    if (input === null || typeof input !== 'object') {
      throw new TypeError('authMiddleware: expected options or a createAuth() instance')
    }
    if ('auth' in input && input.auth !== undefined) {
      const { auth: instance, ...rest } = input as PrebuiltAuthOptions<Req>
      if (!isAuth(instance)) {
        throw new TypeError('authMiddleware: auth: expected a createAuth() instance')
      }
      checkAdapterOnly(rest, 'beside a prebuilt instance (auth)')
      auth = instance
      adapter = { ...rest, ...extra }
    } else {
      const { unless, optional, errors, ...core } = input as AuthOptions<Req> & AdapterOptions<Req>
      auth = createAuth<Req>(core)
      owned = true
      adapter = { unless, optional, errors, ...extra }
    }
  }
  const errors = adapter.errors ?? 'respond'
  if (errors !== 'respond' && errors !== 'propagate') {
    throw new TypeError('authMiddleware: errors: expected "respond" or "propagate"')
  }
  const skipRequest = compileRule('unless', adapter.unless)
  const optionalRequest = compileRule('optional', adapter.optional)
  const mode = auth.mode
  return {
    auth,
    owned,
    propagate: errors === 'propagate',
    usesPath: Array.isArray(adapter.unless) || Array.isArray(adapter.optional),
    // CORS preflights carry no credentials by design; they are never authenticated.
    skip: (request, path, raw, headers) =>
      isPreflight(raw, headers) || skipRequest?.(request, path) === true,
    modeOf:
      optionalRequest === undefined
        ? () => mode
        : (request, path) => (optionalRequest(request, path) ? 'optional' : mode),
  }
}

/** What the adapters pass of Node's request: its method, read only for would-be preflights. */
export interface NodeRequestHead {
  readonly method?: string | undefined
}

export type NodeHeaders = Readonly<Record<string, string | string[] | undefined>>

/**
 * A CORS preflight: `OPTIONS` with `Access-Control-Request-Method`. The header is looked at
 * first, so that `method` is read only for the few requests that carry it.
 */
function isPreflight(raw: NodeRequestHead, headers: NodeHeaders): boolean {
  return headers['access-control-request-method'] !== undefined && raw.method === 'OPTIONS'
}

/** What a framework does with the core's answers: small functions, defined once per adapter. */
export interface FrameworkHooks<Req, Res> {
  /** The request path; read only when an `unless` or `optional` rule looks at paths. */
  readonly path: (request: Req) => string
  /** Puts the verified caller (or `undefined`) where route handlers read it. */
  readonly setAuth: (request: Req, auth: AuthContext | undefined) => void
  /** Sends the error answer (`errors: 'respond'`). */
  readonly respond: (res: Res, response: ErrorResponse) => void
  /**
   * Hands an error to the framework (`errors: 'propagate'`). Default: `next(error)`; a framework
   * whose middleware signals errors by throwing (Koa) throws it.
   */
  readonly propagate?: (error: AuthError) => never
}

/** The framework's "go on" callback; with an error, the default `propagate` passes it on. */
export type Next<R> = (error?: AuthError) => R

/** The core options with the adapter options mixed in (`authMiddleware({ ..., unless })`). */
export type MiddlewareOptions<Req> = AuthOptions<Req> & AdapterOptions<Req>

/** What an adapter's middleware or plugin accepts: core and adapter options, or an instance. */
export type AdapterInput<Req> = MiddlewareOptions<Req> | PrebuiltAuthOptions<Req>

/** A middleware's whole logic, for an adapter to call with the framework's objects. */
export interface Adapter<Req, Res> extends AdapterSetup<Req> {
  /** Closes the instance if the adapter built it (an instance passed in is the caller's). */
  close(): Promise<void>
  /**
   * Authenticates one request: skips it (preflight, `unless`), or sets its `auth` and calls
   * `next()`, or answers or propagates the error. Synchronous when the core is; `mode` overrides
   * the `optional` rules (a route's own setting).
   */
  authenticate<R>(
    request: Req,
    raw: NodeRequestLike & NodeRequestHead,
    res: Res,
    next: Next<R>,
    mode?: 'required' | 'optional',
  ): MaybePromise<R | undefined>
  /** Runs a route guard: `next()` when allowed, else the error is answered or propagated. */
  authorize<R>(
    guard: Guard<Req>,
    auth: AuthContext | undefined,
    request: Req,
    res: Res,
    next: Next<R>,
  ): MaybePromise<R | undefined>
}

/**
 * Resolves the options once (see `setupAdapter`) and returns the middleware logic every adapter
 * shares, parameterised by the framework's `hooks`. The hooks are called with the request, never
 * captured in a closure per request, so a synchronous authentication allocates nothing here.
 *
 * @example
 * const adapter = createAdapter(options, undefined, { path: (req) => req.path, setAuth: (req, auth) => { req.auth = auth }, respond: (res, r) => res.writeHead(r.status, r.headers).end(r.body) })
 * app.use((req, res, next) => { adapter.authenticate(req, req, res, next) })
 */
export function createAdapter<Req, Res>(
  input: Auth<Req> | AdapterInput<Req>,
  extra: AdapterOptions<Req> | undefined,
  hooks: FrameworkHooks<Req, Res>,
): Adapter<Req, Res> {
  const setup = setupAdapter(input, extra)
  const { auth, skip, modeOf, propagate, usesPath } = setup
  const { path: pathOf, setAuth, respond } = hooks
  const raise = hooks.propagate

  function fail<R>(error: unknown, res: Res, next: Next<R>): R | undefined {
    const err = auth.toAuthError(error)
    if (propagate) return raise === undefined ? next(err) : raise(err)
    respond(res, errorResponse(err))
    return undefined
  }

  return {
    ...setup,
    close: () => (setup.owned ? auth.close() : Promise.resolve()),
    authenticate(request, raw, res, next, mode) {
      // headers are read once, the path only for path rules, the method only for preflights
      const headers = raw.headers as NodeHeaders
      const path = usesPath ? pathOf(request) : ''
      if (skip(request, path, raw, headers)) return next()
      let result: MaybePromise<AuthContext | undefined>
      try {
        result = auth.authenticate(
          requestInput(raw, request, headers),
          mode ?? modeOf(request, path),
        )
      } catch (error) {
        return fail(error, res, next)
      }
      if (!isPromise(result)) {
        setAuth(request, result)
        return next()
      }
      return result.then(
        (context) => {
          setAuth(request, context)
          return next()
        },
        (error: unknown) => fail(error, res, next),
      )
    },
    authorize(guard, context, request, res, next) {
      let result: MaybePromise<void>
      try {
        result = auth.authorize(guard, context, request)
      } catch (error) {
        return fail(error, res, next)
      }
      if (!isPromise(result)) return next()
      return result.then(
        () => next(),
        (error: unknown) => fail(error, res, next),
      )
    },
  }
}
