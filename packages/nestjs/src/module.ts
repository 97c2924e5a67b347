import {
  type Adapter,
  type AdapterOptions,
  chainGuards,
  createAdapter,
  type FrameworkHooks,
  type Guard,
  isPromise,
  type NodeRequestLike,
  type Requirement,
  urlPath,
} from '@authframework/core'
import {
  type CanActivate,
  type DynamicModule,
  type ExecutionContext,
  type FactoryProvider,
  Inject,
  Injectable,
  Module,
  type ModuleMetadata,
  type OnModuleDestroy,
  type Provider,
} from '@nestjs/common'
import { APP_FILTER, Reflector } from '@nestjs/core'
import {
  type Auth,
  kOptional,
  kPublic,
  kRequirements,
  kStepUp,
  type NestAuthOptions,
  type NestRequest,
} from './decorators.js'
import { AuthException, AuthExceptionFilter } from './exception.js'

type NestAdapter = Adapter<NestRequest, unknown>
type RawRequest = NodeRequestLike & { readonly method?: string | undefined }

/** The adapter the guard uses; the `createAuth` instance is injectable as `AUTH_INSTANCE`. */
const AUTH_ADAPTER = Symbol('authframework.adapter')
export const AUTH_INSTANCE = Symbol('authframework.auth')

/** Node's request: Fastify's request wraps it as `raw`, Express's request is it. */
const rawOf = (request: NestRequest): RawRequest =>
  (request as { raw?: RawRequest }).raw ?? (request as unknown as RawRequest)

const hooks: FrameworkHooks<NestRequest, unknown> = {
  path: (request) => urlPath(rawOf(request).originalUrl ?? request.url),
  setAuth: (request, auth) => {
    request.auth = auth
  },
  // never called: the errors always leave as exceptions, for Nest's filters (see `propagate`)
  respond: () => {},
  propagate: (error) => {
    throw new AuthException(error)
  },
}

/** Errors always propagate: `AuthExceptionFilter` (or the application's filter) answers them. */
const PROPAGATE: AdapterOptions<NestRequest> = { errors: 'propagate' }
const allow = () => true
const reflector = new Reflector()

/**
 * What a route asks of the guard: `@Public()`, `@OptionalAuth()`, `@RequireAuthentication(...)`
 * and `@RequirePermission(...)`.
 */
interface RoutePlan {
  readonly skip: boolean
  readonly mode: 'optional' | undefined
  readonly guard: Guard<NestRequest> | null
}

/**
 * Authenticates the request and checks `@RequireAuthentication` then `@RequirePermission` (the
 * controller's and the route's), so that a step-up challenge comes before a permission refusal;
 * `@Public()` skips both, `@OptionalAuth()` lets anonymous callers through. Use it globally
 * (`APP_GUARD`) or per controller (`@UseGuards(AuthGuard)`). HTTP only: any other context is
 * refused rather than let through.
 *
 * @example
 * providers: [{ provide: APP_GUARD, useClass: AuthGuard }]
 */
export class AuthGuard implements CanActivate {
  readonly #adapter: NestAdapter
  /** Each route's plan, per controller class (a route may be inherited by another controller). */
  readonly #plans = new WeakMap<object, WeakMap<object, RoutePlan>>()

  constructor(adapter: NestAdapter) {
    this.#adapter = adapter
  }

  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    if (context.getType() !== 'http') {
      throw new TypeError(`AuthGuard: ${context.getType()} requests are not supported; HTTP only`)
    }
    const { skip, mode, guard } = this.#planOf(context.getClass(), context.getHandler())
    if (skip) return true
    const http = context.switchToHttp()
    const request = http.getRequest<NestRequest>()
    const response = http.getResponse<unknown>()
    const adapter = this.#adapter
    const authenticated = adapter.authenticate(request, rawOf(request), response, allow, mode)
    if (guard === null) return authenticated as boolean | Promise<boolean>
    const authorize = () =>
      adapter.authorize(guard, request.auth, request, response, allow) as boolean | Promise<boolean>
    return isPromise(authenticated) ? authenticated.then(authorize) : authorize()
  }

  /** Reads a route's metadata once: the decorators are fixed when the application starts. */
  #planOf(controller: object, handler: object): RoutePlan {
    let plans = this.#plans.get(controller)
    if (plans === undefined) {
      plans = new WeakMap()
      this.#plans.set(controller, plans)
    }
    let plan = plans.get(handler)
    if (plan === undefined) {
      const targets = [handler as Function, controller as Function]
      const requirements = reflector.getAllAndMerge<Requirement<NestRequest>[]>(
        kRequirements,
        targets,
      )
      // a copy: with one decorated target, Nest returns the metadata array itself
      const guards = [...reflector.getAllAndMerge<Guard<NestRequest>[]>(kStepUp, targets)]
      if (requirements.length > 0) guards.push(this.#adapter.auth.guard(...requirements))
      plan = {
        skip: reflector.getAllAndOverride<boolean | undefined>(kPublic, targets) === true,
        mode: reflector.getAllAndOverride(kOptional, targets) === true ? 'optional' : undefined,
        guard: guards.length === 0 ? null : chainGuards(guards),
      }
      plans.set(handler, plan)
    }
    return plan
  }
}
Injectable()(AuthGuard)
Inject(AUTH_ADAPTER)(AuthGuard, undefined, 0)

/** `AuthModule.forRootAsync` options: the options from a factory, e.g. over `ConfigService`. */
export interface AuthModuleAsyncOptions extends Pick<ModuleMetadata, 'imports'> {
  // biome-ignore lint/suspicious/noExplicitAny: Nest passes the injected values, typed by the caller
  useFactory: (...args: any[]) => NestAuthOptions | Auth | Promise<NestAuthOptions | Auth>
  /** What the factory is given, in order (e.g. `[ConfigService]`). */
  inject?: FactoryProvider['inject']
  /**
   * `respond` (default): the module answers errors itself, as the other adapters do.
   * `propagate`: `AuthException`s go to the application's exception filters. Given here, beside
   * the factory, because it decides which providers the module has.
   */
  errors?: 'respond' | 'propagate'
}

function errorsOf(options: NestAuthOptions | Auth): 'respond' | 'propagate' | undefined {
  return 'errors' in options ? options.errors : undefined
}

function definition(
  adapter: Provider,
  errors: 'respond' | 'propagate' | undefined,
  imports: ModuleMetadata['imports'] = [],
): DynamicModule {
  const filter =
    errors === 'propagate' ? [] : [{ provide: APP_FILTER, useClass: AuthExceptionFilter }]
  return {
    module: AuthModule,
    global: true,
    imports,
    providers: [
      adapter,
      AuthGuard,
      { provide: AUTH_INSTANCE, useFactory: (a: NestAdapter) => a.auth, inject: [AUTH_ADAPTER] },
      ...filter,
    ],
    exports: [AUTH_ADAPTER, AUTH_INSTANCE, AuthGuard],
  }
}

/**
 * Registers the authentication for the whole application (a global module): `AuthGuard`, the
 * exception filter that answers errors like the other adapters, and the instance as
 * `AUTH_INSTANCE`. Closes the instance it built when the application closes.
 *
 * @example
 * @Module({ imports: [AuthModule.forRoot({ algorithms: ['RS256'], publicKey: pem, audience: 'orders-api' })], providers: [{ provide: APP_GUARD, useClass: AuthGuard }] })
 * export class AppModule {}
 */
export class AuthModule implements OnModuleDestroy {
  readonly #adapter: NestAdapter

  constructor(adapter: NestAdapter) {
    this.#adapter = adapter
  }

  onModuleDestroy(): Promise<void> {
    return this.#adapter.close()
  }

  /** The options known at import time. */
  static forRoot(options: NestAuthOptions | Auth): DynamicModule {
    const errors = errorsOf(options)
    return definition(
      { provide: AUTH_ADAPTER, useFactory: () => createAdapter(options, PROPAGATE, hooks) },
      errors,
    )
  }

  /** The options from a factory with injected dependencies (`ConfigService`, a secret store). */
  static forRootAsync(options: AuthModuleAsyncOptions): DynamicModule {
    const { useFactory, inject = [], imports, errors } = options
    if (typeof useFactory !== 'function') {
      throw new TypeError(
        'AuthModule.forRootAsync: useFactory: expected a function returning the options',
      )
    }
    const create = async (...args: unknown[]) => {
      const resolved = await useFactory(...args)
      const own = resolved !== null && typeof resolved === 'object' ? errorsOf(resolved) : undefined
      if (own !== undefined && own !== (errors ?? 'respond')) {
        throw new TypeError(
          'AuthModule.forRootAsync: errors: give it beside useFactory, e.g. forRootAsync({ useFactory, errors: "propagate" })',
        )
      }
      return createAdapter(resolved, PROPAGATE, hooks)
    }
    return definition({ provide: AUTH_ADAPTER, useFactory: create, inject }, errors, imports)
  }
}
Module({})(AuthModule)
Inject(AUTH_ADAPTER)(AuthModule, undefined, 0)
