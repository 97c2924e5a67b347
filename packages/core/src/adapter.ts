import { type Auth, createAuth } from './authenticate.js'
import { type AuthOptions, OPTION_NAMES } from './options.js'
import { createPathMatcher, type PathRule } from './skip.js'

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
   * Node's request and `headers` its headers, read once by the adapter and passed on to
   * `requestInput` too: on Express each property read of `req` is an inline cache miss, because
   * its requests change hidden class on every request (≈ 2k instructions; bench/NOTES.md).
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

export { isPromise } from './util.js'
