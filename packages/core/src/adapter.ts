import { type Auth, createAuth } from './authenticate.js'
import type { AuthOptions } from './options.js'
import { createPathMatcher, type PathRule } from './skip.js'

/** Options every adapter takes besides the core's. */
export interface AdapterOptions<Req = unknown> {
  /** Requests that skip authentication: public paths, or a predicate over the request. */
  unless?: readonly PathRule[] | ((request: Req) => boolean)
  /**
   * `respond` (default): the adapter answers errors itself with the problem body.
   * `propagate`: the `AuthError` (with `status`, `headers`, `toProblem()`) goes to the framework's
   * error handling (`next(err)`, a thrown error, Fastify's error handler).
   */
  errors?: 'respond' | 'propagate'
}

/** What an adapter needs from its options, resolved once when the middleware is created. */
export interface AdapterSetup<Req> {
  readonly auth: Auth<Req>
  /** True for requests that skip authentication (`unless`, CORS preflights); undefined if none can. */
  readonly skip: (request: Req, method: string, path: string, preflight: boolean) => boolean
  readonly propagate: boolean
}

function isAuth(value: unknown): value is Auth<never> {
  return typeof (value as Auth | undefined)?.authenticate === 'function'
}

/**
 * Accepts either a prebuilt `createAuth` instance (plus adapter options) or the core options with
 * the adapter options mixed in, and resolves both once.
 */
export function setupAdapter<Req>(
  input: Auth<Req> | (AuthOptions<Req> & AdapterOptions<Req>),
  extra?: AdapterOptions<Req>,
): AdapterSetup<Req> {
  let auth: Auth<Req>
  let adapter: AdapterOptions<Req>
  if (isAuth(input)) {
    auth = input as Auth<Req>
    adapter = extra ?? {}
  } else {
    if (input === null || typeof input !== 'object') {
      throw new TypeError('authMiddleware: expected options or a createAuth() instance')
    }
    const { unless, errors, ...core } = input
    auth = createAuth<Req>(core)
    adapter = { unless, errors, ...extra }
  }
  const errors = adapter.errors ?? 'respond'
  if (errors !== 'respond' && errors !== 'propagate') {
    throw new TypeError('authMiddleware: errors: expected "respond" or "propagate"')
  }
  const unless = adapter.unless
  let skipRequest: ((request: Req, path: string) => boolean) | undefined
  if (typeof unless === 'function') skipRequest = (request) => unless(request) === true
  else if (Array.isArray(unless)) {
    const matches = createPathMatcher(unless)
    skipRequest = (_request, path) => matches(path)
  } else if (unless !== undefined) {
    throw new TypeError('authMiddleware: unless: expected an array of paths or a function')
  }
  return {
    auth,
    propagate: errors === 'propagate',
    // CORS preflights carry no credentials by design; they are never authenticated.
    skip: (request, method, path, preflight) =>
      (method === 'OPTIONS' && preflight) || skipRequest?.(request, path) === true,
  }
}

export { isPromise } from './util.js'
