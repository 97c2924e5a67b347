import type { IncomingHttpHeaders } from 'node:http'
import {
  type AdapterInput,
  type AuthContext,
  type Auth as CoreAuth,
  createGuard,
  createStepUpGuard,
  type Requirement,
  type StepUpOptions,
} from '@authframework/core'
import { createParamDecorator, type ExecutionContext, SetMetadata } from '@nestjs/common'

/**
 * What both platforms' requests share (`@nestjs/platform-express` and `@nestjs/platform-fastify`):
 * the type route predicates see, and where the guard puts the caller.
 */
export interface NestRequest {
  readonly params: Readonly<Record<string, string | undefined>>
  readonly query: unknown
  readonly headers: IncomingHttpHeaders
  readonly method: string
  readonly url: string
  /** The verified caller; `undefined` on public routes and anonymous optional requests. */
  auth?: AuthContext | undefined
}

/** `AuthModule.forRoot` options: the core and adapter options, or `{ auth }` with an instance. */
export type NestAuthOptions = AdapterInput<NestRequest>

/** A `createAuth` instance for Nest routes (also the `@Auth()` parameter decorator's name). */
export type Auth<Req = NestRequest> = CoreAuth<Req>

export const kPublic = Symbol('authframework.public')
export const kOptional = Symbol('authframework.optional')
export const kRequirements = Symbol('authframework.requirements')
export const kStepUp = Symbol('authframework.step-up')

/**
 * The route needs every requirement: permission strings, `allOf`/`anyOf`/`not`, predicates
 * `(auth, request) => boolean | Promise<boolean>`. On a controller, on every route of it, together
 * with the route's own. 401 when anonymous, 403 when denied.
 *
 * @example
 * @RequirePermission('orders:read', not('suspended'))
 * @Get('orders') list(@Auth() auth: AuthContext) { return { sub: auth.sub } }
 */
export function RequirePermission(
  ...requirements: Requirement<NestRequest>[]
): MethodDecorator & ClassDecorator {
  // compiled now, so that a malformed requirement fails where it is written, at startup
  createGuard(requirements)
  return SetMetadata(kRequirements, requirements)
}

/**
 * Step-up authentication (RFC 9470): the token's `acr` must be one of `acrValues`, its
 * `auth_time` at most `maxAgeSeconds` old; otherwise 401 `insufficient_user_authentication` with
 * `acr_values` and `max_age` in the challenge. On a controller, on every route of it, together
 * with the route's own; checked before `@RequirePermission`.
 *
 * @example
 * @RequireAuthentication({ acrValues: ['mfa'], maxAgeSeconds: 300 }) @RequirePermission('payments:write')
 * @Post('payments') pay(@Auth() auth: AuthContext) { return { sub: auth.sub } }
 */
export function RequireAuthentication(options: StepUpOptions): MethodDecorator & ClassDecorator {
  // compiled now: bad options fail where they are written, at startup
  return SetMetadata(kStepUp, [createStepUpGuard<NestRequest>(options)])
}

/**
 * A public route (or controller): not authenticated, even under a global guard.
 *
 * @example
 * @Public() @Get('health') health() { return { status: 'ok' } }
 */
export const Public = (): MethodDecorator & ClassDecorator => SetMetadata(kPublic, true)

/**
 * Credentials are optional here: none is an anonymous request (`@Auth()` is `undefined`), bad
 * ones are still refused.
 *
 * @example
 * @OptionalAuth() @Get('catalog') catalog(@Auth() auth?: AuthContext) { return auth?.sub }
 */
export const OptionalAuth = (): MethodDecorator & ClassDecorator => SetMetadata(kOptional, true)

/**
 * The verified caller of the request, as a route parameter (`undefined` on public routes and
 * anonymous optional requests).
 *
 * @example
 * @Get('me') me(@Auth() auth: AuthContext) { return { sub: auth.sub } }
 */
export const Auth = createParamDecorator(
  (_data: unknown, context: ExecutionContext): AuthContext | undefined =>
    context.switchToHttp().getRequest<NestRequest>().auth,
)
