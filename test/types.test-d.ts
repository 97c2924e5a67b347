/** What users see in their editors: the context types reach every framework's request. */
import type {
  AuthClaims,
  AuthContext,
  AuthError,
  AuthFailure,
  AuthOptions,
  ClaimsOf,
  InsufficientUserAuthenticationError,
  Requirement,
  StepUpOptions,
} from '@authframework/core'
import { allOf, anyOf, createAuth, not, requireDpop } from '@authframework/core'
import { authMiddleware, requireAuthentication, requirePermission } from '@authframework/express'
import { authPlugin } from '@authframework/fastify'
import {
  authMiddleware as honoAuth,
  requirePermission as honoGuard,
  requireAuthentication as honoStepUp,
} from '@authframework/hono'
import {
  authMiddleware as koaAuth,
  requirePermission as koaGuard,
  requireAuthentication as koaStepUp,
} from '@authframework/koa'
import {
  Auth,
  type AuthException,
  AuthModule,
  type NestRequest,
  RequireAuthentication,
  RequirePermission,
} from '@authframework/nestjs'
import type { DynamicModule, HttpException } from '@nestjs/common'
import type { Request, RequestHandler } from 'express'
import Fastify, { type FastifyRequest, type preHandlerHookHandler } from 'fastify'
import type { Context as HonoContext, MiddlewareHandler } from 'hono'
import type Koa from 'koa'
import type { Middleware } from 'koa'
import { describe, expectTypeOf, it } from 'vitest'

describe('types', () => {
  it('req.auth on Express', () => {
    expectTypeOf<Request['auth']>().toEqualTypeOf<AuthContext | undefined>()
    expectTypeOf(
      authMiddleware({ algorithms: ['HS256'], secret: 'x'.repeat(32) }),
    ).toEqualTypeOf<RequestHandler>()
    expectTypeOf(
      requirePermission('a', anyOf('b', 'c'), (auth, req) => auth.sub === req.params.id),
    ).toEqualTypeOf<RequestHandler>()
  })

  it('ctx.state.auth on Koa', () => {
    expectTypeOf<Koa.DefaultState['auth']>().toEqualTypeOf<AuthContext | undefined>()
    expectTypeOf<Koa.ParameterizedContext['state']['auth']>().toEqualTypeOf<
      AuthContext | undefined
    >()
    expectTypeOf(
      koaAuth({ algorithms: ['ES256'], jwksUri: 'https://issuer.example/jwks' }),
    ).toEqualTypeOf<Middleware>()
    expectTypeOf(koaGuard(allOf('a', not('b')))).toEqualTypeOf<Middleware>()
  })

  it('request.auth on Fastify', async () => {
    expectTypeOf<FastifyRequest['auth']>().toEqualTypeOf<AuthContext | undefined>()
    const app = Fastify()
    await app.register(authPlugin, {
      algorithms: ['RS256'],
      jwksUri: 'https://issuer.example/jwks',
    })
    expectTypeOf(app.requirePermission('orders:read')).toEqualTypeOf<preHandlerHookHandler>()
    app.get('/x', { config: { auth: false } }, async (req) => {
      expectTypeOf(req.auth).toEqualTypeOf<AuthContext | undefined>()
    })
  })

  it("c.get('auth') on Hono", () => {
    const check = (c: HonoContext) => {
      expectTypeOf(c.get('auth')).toEqualTypeOf<AuthContext | undefined>()
      expectTypeOf(c.var.auth).toEqualTypeOf<AuthContext | undefined>()
    }
    expectTypeOf(check).toBeFunction()
    expectTypeOf(
      honoAuth({ algorithms: ['HS256'], secret: 'x'.repeat(32) }),
    ).toEqualTypeOf<MiddlewareHandler>()
    expectTypeOf(
      honoGuard('a', not('b'), (auth, c) => auth.sub === c.req.param('id')),
    ).toEqualTypeOf<MiddlewareHandler>()
    // @ts-expect-error: a misspelt adapter option
    honoAuth({ algorithms: ['HS256'], secret: 'x'.repeat(32), unles: ['/health'] })
  })

  it('the module, decorators and exception on NestJS', () => {
    expectTypeOf(
      AuthModule.forRoot({ algorithms: ['RS256'], jwksUri: 'https://i.example/jwks' }),
    ).toEqualTypeOf<DynamicModule>()
    expectTypeOf(
      AuthModule.forRootAsync({
        inject: ['config'],
        useFactory: (config: { jwksUri: string }) => ({
          algorithms: ['RS256' as const],
          jwksUri: config.jwksUri,
        }),
      }),
    ).toEqualTypeOf<DynamicModule>()
    // predicates see the request both platforms share
    RequirePermission(anyOf('admin', (auth, req) => auth.sub === req.params.id))
    RequirePermission(allOf('a', not('b')), 'c')
    expectTypeOf<NestRequest['auth']>().toEqualTypeOf<AuthContext | undefined>()
    expectTypeOf(Auth()).toEqualTypeOf<ParameterDecorator>()
    expectTypeOf<AuthException>().toExtend<HttpException>()
    expectTypeOf<AuthException['authError']>().toEqualTypeOf<AuthError>()
    const auth = createAuth<NestRequest>({
      algorithms: ['RS256'],
      jwksUri: 'https://i.example/jwks',
    })
    AuthModule.forRoot({ auth, unless: ['/health'] })
    // @ts-expect-error: a core option belongs to createAuth() beside an instance
    AuthModule.forRoot({ auth, issuer: 'https://good.example' })
  })

  it('step-up guards in every adapter', async () => {
    expectTypeOf(requireAuthentication({ acrValues: ['mfa'] })).toEqualTypeOf<RequestHandler>()
    expectTypeOf(koaStepUp({ maxAgeSeconds: 300 })).toEqualTypeOf<Middleware>()
    expectTypeOf(
      honoStepUp({ acrValues: ['mfa'], maxAgeSeconds: 60 }),
    ).toEqualTypeOf<MiddlewareHandler>()
    const app = Fastify()
    await app.register(authPlugin, { algorithms: ['RS256'], jwksUri: 'https://i.example/jwks' })
    expectTypeOf(
      app.requireAuthentication({ acrValues: ['mfa'] }),
    ).toEqualTypeOf<preHandlerHookHandler>()
    expectTypeOf(RequireAuthentication({ maxAgeSeconds: 300 })).toEqualTypeOf<
      MethodDecorator & ClassDecorator
    >()
    expectTypeOf<StepUpOptions['acrValues']>().toEqualTypeOf<readonly string[] | undefined>()
    expectTypeOf<StepUpOptions['maxAgeSeconds']>().toEqualTypeOf<number | undefined>()
    // @ts-expect-error: a misspelt requirement is a type error (and a TypeError at run time)
    requireAuthentication({ maxAge: 300 })
    // the challenge's parameters are typed on the narrowed error
    const check = (err: AuthFailure) =>
      err.code === 'insufficient_user_authentication' ? err.acrValues : undefined
    expectTypeOf(check).returns.toEqualTypeOf<readonly string[] | undefined>()
    expectTypeOf<InsufficientUserAuthenticationError['maxAge']>().toEqualTypeOf<
      number | undefined
    >()
  })

  it('options beside a prebuilt instance are a type error', async () => {
    const app = Fastify()
    const auth = createAuth<FastifyRequest>({
      algorithms: ['RS256'],
      jwksUri: 'https://i.example/jwks',
    })
    await app.register(authPlugin, { auth, unless: ['/health'], errors: 'propagate' })
    // @ts-expect-error: a core option belongs to createAuth()
    await app.register(authPlugin, { auth, issuer: 'https://good.example' })
    // @ts-expect-error: a misspelt adapter option
    await app.register(authPlugin, { auth, unles: ['/health'] })
    const expressAuth = createAuth<Request>({
      algorithms: ['RS256'],
      jwksUri: 'https://i.example/jwks',
    })
    authMiddleware(expressAuth, { unless: ['/health'] })
    // @ts-expect-error: a core option belongs to createAuth()
    authMiddleware(expressAuth, { issuer: 'https://good.example' })
  })

  it('claims are typed once per app (AuthClaims) or per use (AuthContext<Claims>)', () => {
    // declaration merging of AuthClaims is checked against the published declarations, in a
    // consumer of the packed tarballs (scripts/packed-install/consumer.ts): merging it here would
    // retype the core's own sources, which build contexts from any verified payload
    expectTypeOf<AuthClaims>().toEqualTypeOf<{}>()
    expectTypeOf<AuthContext>().toEqualTypeOf<AuthContext<AuthClaims>>()
    type Mine = { email: string; tenant?: string }
    expectTypeOf<AuthContext<Mine>['claims']['email']>().toEqualTypeOf<string>()
    expectTypeOf<AuthContext<Mine>['claims']['tenant']>().toEqualTypeOf<string | undefined>()
    // undeclared claims stay readable, as unknown
    expectTypeOf<AuthContext<Mine>['claims']['other']>().toEqualTypeOf<unknown>()
    expectTypeOf<ClaimsOf<Mine>>().toEqualTypeOf<Readonly<Record<string, unknown> & Mine>>()
    // a context with declared claims is still a context
    expectTypeOf<AuthContext<Mine>>().toExtend<AuthContext>()
  })

  it('the context is read-only', () => {
    expectTypeOf<AuthContext['permissions']>().toEqualTypeOf<readonly string[]>()
    expectTypeOf<AuthContext['claims']>().toEqualTypeOf<Readonly<Record<string, unknown>>>()
    expectTypeOf<AuthContext['sub']>().toEqualTypeOf<string>()
  })

  it('options are typed', () => {
    expectTypeOf<AuthOptions['mode']>().toEqualTypeOf<'required' | 'optional' | undefined>()
    expectTypeOf<AuthOptions['permissionsClaim']>().toEqualTypeOf<
      'perms' | 'permissions' | 'scope' | undefined
    >()
    // @ts-expect-error: algorithm names are checked, including their case
    createAuth({ algorithms: ['rs256'], secret: 'x' })
    // @ts-expect-error: 'none' is never an algorithm
    createAuth({ algorithms: ['none'], secret: 'x' })
    expectTypeOf<NonNullable<AuthOptions['mtls']>['headerFormat']>().toEqualTypeOf<
      'rfc9440' | 'pem' | 'base64' | undefined
    >()
    // @ts-expect-error: the proxy's header is what the option is for
    createAuth({ algorithms: ['HS256'], secret: 'x', mtls: { headerFormat: 'pem' } })
    expectTypeOf<Requirement>().toMatchTypeOf<string | Requirement>()
  })

  it('the dpop option and requireDpop are typed', () => {
    createAuth({ secret: 'x'.repeat(32), dpop: 'allowed' })
    createAuth({
      secret: 'x'.repeat(32),
      dpop: { mode: 'required', algorithms: ['ES256', 'EdDSA'], origin: 'https://api.example' },
    })
    // @ts-expect-error: HMAC is never a proof algorithm
    createAuth({ secret: 'x'.repeat(32), dpop: { algorithms: ['HS256'] } })
    // @ts-expect-error: the modes are allowed and required
    createAuth({ secret: 'x'.repeat(32), dpop: 'optional' })
    // the url option sees the framework's request
    authMiddleware({
      secret: 'x'.repeat(32),
      dpop: { url: (req) => `https://api.example${req.originalUrl}` },
    })
    expectTypeOf(requireDpop<Request>()).toExtend<Requirement<Request>>()
    requirePermission(requireDpop(), 'orders:read')
  })

  it('errors narrow on code', () => {
    const check = (err: AuthError) => err.code
    expectTypeOf(check).returns.toEqualTypeOf<
      | 'credentials_missing'
      | 'credentials_invalid'
      | 'invalid_request'
      | 'token_invalid'
      | 'token_expired'
      | 'token_not_yet_valid'
      | 'token_revoked'
      | 'session_invalid'
      | 'user_inactive'
      | 'dpop_proof_invalid'
      | 'dpop_nonce_required'
      | 'dpop_required'
      | 'permission_denied'
      | 'insufficient_user_authentication'
      | 'too_many_attempts'
      | 'auth_unavailable'
    >()
  })
})
