import {
  type AdapterInput,
  type AuthContext,
  createAdapter,
  createStepUpGuard,
  type FrameworkHooks,
  type Guard,
  type Requirement,
  type StepUpOptions,
  urlPath,
} from '@authframework/core'
import type {
  FastifyPluginAsync,
  FastifyReply,
  FastifyRequest,
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
    /**
     * A `preHandler` for step-up authentication (RFC 9470): 401 `insufficient_user_authentication`
     * unless the token's `acr` is one of `acrValues` and its `auth_time` at most `maxAgeSeconds` old.
     */
    requireAuthentication(options: StepUpOptions): preHandlerHookHandler
  }
  interface FastifyContextConfig {
    /** `false`: a public route, not authenticated. `'optional'`: credentials are optional. */
    auth?: boolean | 'optional'
  }
}

/** The core and adapter options, or `{ auth }`: an instance, with adapter options only. */
export type FastifyAuthOptions = AdapterInput<FastifyRequest>

const hooks: FrameworkHooks<FastifyRequest, FastifyReply> = {
  path: (request) => urlPath(request.url),
  setAuth: (request, auth) => {
    request.auth = auth
  },
  // a Buffer, so that Fastify sends the content type as is (no charset), like Express and Koa
  respond: (reply, { status, headers, body }) => {
    reply.code(status).headers(headers).send(Buffer.from(body))
  },
}

// async: a configuration mistake (a TypeError from createAdapter) fails `register`
const plugin: FastifyPluginAsync<FastifyAuthOptions> = async (app, options) => {
  // a parent's plugin already authenticates every request of this scope: a second would run too
  if (app.hasRequestDecorator('auth')) {
    throw new TypeError(
      'authPlugin: already registered in this scope or a parent scope. For several issuers, register it once with `issuers`; for different options per part of the app, register it in sibling scopes: app.register(async (scope) => { await scope.register(authPlugin, options) }).',
    )
  }
  const adapter = createAdapter<FastifyRequest, FastifyReply>(options, undefined, hooks)
  app.decorateRequest('auth', undefined)
  const preHandler = (guard: Guard<FastifyRequest>) =>
    function authorize(request, reply, next) {
      adapter.authorize(guard, request.auth, request, reply, next)
    } as preHandlerHookHandler
  app.decorate('requirePermission', (...requirements: Requirement<FastifyRequest>[]) =>
    preHandler(adapter.auth.guard(...requirements)),
  )
  app.decorate('requireAuthentication', (options: StepUpOptions) =>
    preHandler(createStepUpGuard(options)),
  )
  app.addHook('onRequest', function authenticate(request, reply, next) {
    const routeAuth = request.routeOptions.config.auth
    if (routeAuth === false) return next()
    const mode = routeAuth === 'optional' ? 'optional' : undefined
    // Node's request directly: Fastify's `request.method` and `request.headers` are getters over it
    adapter.authenticate(request, request.raw, reply, next, mode)
  })
  app.addHook('onClose', () => adapter.close())
}

/**
 * Authenticates every request (`onRequest`, before the body is read) and sets `request.auth`;
 * adds `app.requirePermission(...)` and `app.requireAuthentication({...})` (step-up) for route
 * `preHandler`s. A route with `config: { auth: false }` is public. Register it once per scope:
 * several issuers are one registration with `issuers`; sibling encapsulated scopes may each
 * register their own.
 *
 * @example
 * await app.register(authPlugin, { algorithms: ['RS256'], publicKey: pem, audience: 'orders-api' })
 * app.get('/orders', { preHandler: app.requirePermission('orders:read') }, async (req) => req.auth)
 */
export const authPlugin = fp(plugin, { name: '@authframework/fastify', fastify: '4.x || 5.x' })
export default authPlugin

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
