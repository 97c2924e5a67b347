import {
  type AdapterOptions,
  type AdapterSetup,
  type AuthContext,
  type AuthOptions,
  errorResponse,
  isPromise,
  type PrebuiltAuthOptions,
  type Requirement,
  requestInput,
  setupAdapter,
} from '@authframework/core'
import type {
  FastifyInstance,
  FastifyPluginCallback,
  FastifyReply,
  FastifyRequest,
  HookHandlerDoneFunction,
  preHandlerHookHandler,
} from 'fastify'
import fp from 'fastify-plugin'

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified caller; `undefined` on public routes and anonymous optional-mode requests. */
    auth: AuthContext | undefined
  }
  interface FastifyInstance {
    /** A `preHandler` that requires every given permission or predicate. */
    requirePermission(...requirements: Requirement<FastifyRequest>[]): preHandlerHookHandler
  }
  interface FastifyContextConfig {
    /** `false`: a public route, not authenticated. `'optional'`: credentials are optional. */
    auth?: boolean | 'optional'
  }
}

/**
 * Plugin options: the core options plus adapter options, or `{ auth }` with a prebuilt instance
 * plus adapter options only (core options beside an instance are a type error and a TypeError).
 */
export type FastifyAuthOptions =
  | (AuthOptions<FastifyRequest> & AdapterOptions<FastifyRequest>)
  | PrebuiltAuthOptions<FastifyRequest>

const plugin: FastifyPluginCallback<FastifyAuthOptions> = (app, options, done) => {
  let setup: AdapterSetup<FastifyRequest>
  try {
    setup = setupAdapter<FastifyRequest>(options)
  } catch (error) {
    // a configuration mistake fails `register` (avvio does not catch a throwing callback plugin)
    return done(error as Error)
  }
  const { auth, owned, skip, modeOf, propagate } = setup

  function fail(error: unknown, reply: FastifyReply, next: HookHandlerDoneFunction): void {
    const err = auth.toAuthError(error)
    if (propagate) {
      next(err)
      return
    }
    const { status, headers, body } = errorResponse(err)
    // a Buffer, so that Fastify sends the content type as is (no charset), like Express and Koa
    reply.code(status).headers(headers).send(Buffer.from(body))
  }

  app.decorateRequest('auth', undefined)
  app.decorate('requirePermission', (...requirements: Requirement<FastifyRequest>[]) => {
    const guard = auth.guard(...requirements)
    return function checkPermission(request, reply, next) {
      let result: void | Promise<void>
      try {
        result = auth.authorize(guard, request.auth, request)
      } catch (error) {
        return fail(error, reply, next)
      }
      if (!isPromise(result)) return next()
      result.then(
        () => next(),
        (error: unknown) => fail(error, reply, next),
      )
    } as preHandlerHookHandler
  })

  app.addHook('onRequest', function authenticate(request, reply, next) {
    const routeAuth = request.routeOptions.config.auth
    if (routeAuth === false) return next()
    const url = request.url
    const q = url.indexOf('?')
    const path = q === -1 ? url : url.slice(0, q)
    // Node's request directly: Fastify's `request.method` and `request.headers` are getters over it
    const raw = request.raw
    const headers = raw.headers
    if (skip(request, path, raw, headers)) return next()
    let result: AuthContext | undefined | Promise<AuthContext | undefined>
    try {
      const mode = routeAuth === 'optional' ? 'optional' : modeOf(request, path)
      result = auth.authenticate(requestInput(raw, request, headers), mode)
    } catch (error) {
      return fail(error, reply, next)
    }
    if (!isPromise(result)) {
      request.auth = result
      return next()
    }
    result.then(
      (context) => {
        request.auth = context
        next()
      },
      (error: unknown) => fail(error, reply, next),
    )
  })

  app.addHook('onClose', (_instance: FastifyInstance, closed) => {
    // an instance passed in is the caller's to close
    if (owned) auth.close().then(() => closed(), closed)
    else closed()
  })
  done()
}

/**
 * Authenticates every request (`onRequest`, before the body is read) and sets `request.auth`;
 * adds `app.requirePermission(...)` for route `preHandler`s. A route with `config: { auth: false }`
 * is public.
 *
 * @example
 * await app.register(authPlugin, { algorithms: ['RS256'], publicKey: pem, audience: 'orders-api' })
 * app.get('/orders', { preHandler: app.requirePermission('orders:read') }, async (req) => req.auth)
 */
export const authPlugin = fp(plugin, { name: '@authframework/fastify', fastify: '4.x || 5.x' })
export default authPlugin

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
