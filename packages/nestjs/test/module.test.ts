/**
 * What the contract table does not cover: configuration through `forRootAsync`, a guard per
 * controller, requirements on a controller, and errors routed through the application's filters.
 */
import 'reflect-metadata'
import type { ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import {
  Auth,
  type AuthContext,
  AuthException,
  AuthGuard,
  AuthModule,
  createSigner,
  Public,
  RequireAuthentication,
  RequirePermission,
} from '@authframework/nestjs'
import {
  type ArgumentsHost,
  Catch,
  Controller,
  type ExceptionFilter,
  Get,
  type INestApplication,
  Module,
  Post,
  UseGuards,
} from '@nestjs/common'
import { APP_FILTER, APP_GUARD, NestFactory } from '@nestjs/core'
import { FastifyAdapter } from '@nestjs/platform-fastify'
import { afterEach, describe, expect, it } from 'vitest'

const secret = 'a-test-secret-of-at-least-32-bytes!'
const signer = createSigner({ algorithm: 'HS256', secret, issuer: 'https://issuer.example' })
const options = { algorithms: ['HS256' as const], secret, issuer: 'https://issuer.example' }
const reader = signer.sign({ sub: 'user-1', perms: ['orders:read'] })
const writer = signer.sign({ sub: 'user-2', perms: ['orders:read', 'orders:write'] })
const codeOf = async (res: Response) => ((await res.json()) as { code: string }).code
const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

@Controller('orders')
@UseGuards(AuthGuard)
@RequirePermission('orders:read')
class OrdersController {
  @Get()
  list(@Auth() auth: AuthContext) {
    return { sub: auth.sub }
  }

  @RequirePermission('orders:write')
  @Get('write')
  write(@Auth() auth: AuthContext) {
    return { sub: auth.sub }
  }
}

@Controller('open')
class OpenController {
  @Get()
  open(@Auth() auth: AuthContext | undefined) {
    return { auth: auth ?? null }
  }
}

/** A stand-in for `@nestjs/config`: a module that provides the settings. */
const SETTINGS = Symbol('settings')
@Module({ providers: [{ provide: SETTINGS, useValue: options }], exports: [SETTINGS] })
class SettingsModule {}

let app: INestApplication | undefined
afterEach(async () => {
  await app?.close()
  app = undefined
})

async function start(module: new () => object, fastify = false): Promise<string> {
  app = fastify
    ? await NestFactory.create(module, new FastifyAdapter(), { logger: false })
    : await NestFactory.create(module, { logger: false })
  await app.listen(0, '127.0.0.1')
  return `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`
}

describe('AuthModule.forRootAsync and a guard per controller', () => {
  @Module({
    imports: [
      AuthModule.forRootAsync({
        imports: [SettingsModule],
        inject: [SETTINGS],
        useFactory: async (settings: typeof options) => settings,
      }),
    ],
    controllers: [OrdersController, OpenController],
  })
  class AppModule {}

  it.each([false, true])('fastify: %s', async (fastify) => {
    const url = await start(AppModule, fastify)
    const anonymous = await fetch(`${url}/orders`)
    expect(anonymous.status).toBe(401)
    expect(anonymous.headers.get('www-authenticate')).toBe('Bearer realm="api"')
    expect(anonymous.headers.get('content-type')).toBe('application/problem+json')
    expect(await (await fetch(`${url}/orders`, { headers: bearer(reader) })).json()).toEqual({
      sub: 'user-1',
    })
    // the controller's requirement and the route's both hold
    const denied = await fetch(`${url}/orders/write`, { headers: bearer(reader) })
    expect(denied.status).toBe(403)
    expect(await codeOf(denied)).toBe('permission_denied')
    expect(denied.headers.get('www-authenticate')).toMatch(/scope="[^"]*orders:write/)
    expect((await fetch(`${url}/orders/write`, { headers: bearer(writer) })).status).toBe(200)
    // a controller without the guard is not authenticated
    expect(await (await fetch(`${url}/open`, { headers: bearer('junk') })).json()).toEqual({
      auth: null,
    })
  })

  it('refuses errors in the factory result that differ from the module definition', async () => {
    @Module({
      imports: [
        AuthModule.forRootAsync({ useFactory: () => ({ ...options, errors: 'propagate' }) }),
      ],
    })
    class Mismatch {}
    await expect(
      NestFactory.create(Mismatch, { logger: false, abortOnError: false }),
    ).rejects.toThrow(/errors: give it beside useFactory/)
  })
})

describe("errors: 'propagate'", () => {
  /** The application's own filter: it sees the AuthError and still sends the answer's header. */
  @Catch(AuthException)
  class TeapotFilter implements ExceptionFilter<AuthException> {
    catch(exception: AuthException, host: ArgumentsHost) {
      const res = host.switchToHttp().getResponse<ServerResponse>()
      res
        .writeHead(exception.getStatus(), {
          'content-type': 'application/json',
          'www-authenticate': exception.answer.headers['www-authenticate'] ?? '',
        })
        .end(JSON.stringify({ mine: true, code: exception.authError.code }))
    }
  }

  it('routes the errors through the exception filters of the application', async () => {
    @Module({
      imports: [AuthModule.forRoot({ ...options, errors: 'propagate' })],
      controllers: [OrdersController],
      providers: [{ provide: APP_FILTER, useClass: TeapotFilter }],
    })
    class AppModule {}
    const url = await start(AppModule)
    const res = await fetch(`${url}/orders`, { headers: bearer('not-a-jwt') })
    expect(res.status).toBe(401)
    expect(res.headers.get('www-authenticate')).toMatch(
      /^Bearer realm="api", error="invalid_token"/,
    )
    expect(await res.json()).toEqual({ mine: true, code: 'token_invalid' })
  })

  it("without a filter of the application's, Nest answers the status and the problem", async () => {
    @Module({
      imports: [AuthModule.forRoot({ ...options, errors: 'propagate' })],
      controllers: [OrdersController],
    })
    class AppModule {}
    const url = await start(AppModule)
    const res = await fetch(`${url}/orders/write`, { headers: bearer(reader) })
    expect(res.status).toBe(403)
    expect(await res.json()).toMatchObject({ code: 'permission_denied', status: 403 })
  })
})

describe('a global guard', () => {
  @Controller()
  @Public()
  class HealthController {
    @Get('health')
    health() {
      return { status: 'ok' }
    }
  }

  @Controller()
  class MeController {
    @Get('me')
    me(@Auth() auth: AuthContext) {
      return { sub: auth.sub }
    }
  }

  it('authenticates every route but the public controller', async () => {
    @Module({
      imports: [AuthModule.forRoot(options)],
      controllers: [HealthController, MeController],
      providers: [{ provide: APP_GUARD, useClass: AuthGuard }],
    })
    class AppModule {}
    const url = await start(AppModule, true)
    expect((await fetch(`${url}/health`)).status).toBe(200)
    const res = await fetch(`${url}/me`)
    expect(res.status).toBe(401)
    expect(res.headers.get('www-authenticate')).toBe('Bearer realm="api"')
    expect(await (await fetch(`${url}/me`, { headers: bearer(reader) })).json()).toEqual({
      sub: 'user-1',
    })
  })
})

describe('@RequireAuthentication', () => {
  const nowS = () => Math.floor(Date.now() / 1000)
  const CHALLENGE = (description: string) =>
    `Bearer realm="api", error="insufficient_user_authentication", error_description="${description}.", acr_values="mfa", max_age="300"`

  /** The controller asks for mfa, the route for a recent authentication and a permission too. */
  @Controller('payments')
  @RequireAuthentication({ acrValues: ['mfa'] })
  class PaymentsController {
    @Get()
    list(@Auth() auth: AuthContext) {
      return { sub: auth.sub }
    }

    @RequireAuthentication({ maxAgeSeconds: 300 })
    @RequirePermission('payments:write')
    @Post()
    pay(@Auth() auth: AuthContext) {
      return { sub: auth.sub }
    }
  }

  it.each([false, true])(
    'merges the controller and the route, before the permissions (fastify: %s)',
    async (fastify) => {
      @Module({
        imports: [AuthModule.forRoot(options)],
        controllers: [PaymentsController],
        providers: [{ provide: APP_GUARD, useClass: AuthGuard }],
      })
      class AppModule {}
      const url = await start(AppModule, fastify)
      const post = (claims: Record<string, unknown>) =>
        fetch(`${url}/payments`, {
          method: 'POST',
          headers: bearer(signer.sign({ sub: 'user-1', ...claims })),
        })
      const mfa = { acr: 'mfa', auth_time: nowS() - 10 }
      expect((await post({ ...mfa, perms: ['payments:write'] })).status).toBe(201)
      // the route's max age on top of the controller's acr
      const old = await post({ acr: 'mfa', auth_time: nowS() - 400, perms: ['payments:write'] })
      expect(old.status).toBe(401)
      expect(old.headers.get('www-authenticate')).toBe(
        'Bearer realm="api", error="insufficient_user_authentication", error_description="More recent authentication is required.", max_age="300"',
      )
      // both failing: the step-up challenge, not the permission refusal
      const weak = await post({ acr: 'pwd', auth_time: nowS() })
      expect(weak.status).toBe(401)
      expect(weak.headers.get('www-authenticate')).toBe(
        'Bearer realm="api", error="insufficient_user_authentication", error_description="A different authentication level is required.", acr_values="mfa"',
      )
      expect(await codeOf(await post(mfa))).toBe('permission_denied')
      // the controller's requirement alone on the other route
      const list = (acr: string) =>
        fetch(`${url}/payments`, { headers: bearer(signer.sign({ sub: 'user-1', acr })) })
      expect((await list('mfa')).status).toBe(200)
      expect(await codeOf(await list('pwd'))).toBe('insufficient_user_authentication')
    },
  )

  it("errors: 'propagate': the application's filter gets the challenge", async () => {
    @Catch(AuthException)
    class OwnFilter implements ExceptionFilter<AuthException> {
      catch(exception: AuthException, host: ArgumentsHost) {
        const { status, headers } = exception.answer
        host
          .switchToHttp()
          .getResponse<ServerResponse>()
          .writeHead(status, { 'www-authenticate': headers['www-authenticate'] ?? '' })
          .end(JSON.stringify({ mine: true, code: exception.authError.code }))
      }
    }
    @Controller('step-up')
    @UseGuards(AuthGuard)
    class StepUpController {
      @RequireAuthentication({ acrValues: ['mfa'], maxAgeSeconds: 300 })
      @Get()
      get() {
        return {}
      }
    }
    @Module({
      imports: [AuthModule.forRoot({ ...options, errors: 'propagate' })],
      controllers: [StepUpController],
      providers: [{ provide: APP_FILTER, useClass: OwnFilter }],
    })
    class AppModule {}
    const url = await start(AppModule)
    const res = await fetch(`${url}/step-up`, { headers: bearer(reader) })
    expect(res.status).toBe(401)
    expect(res.headers.get('www-authenticate')).toBe(
      CHALLENGE('A different authentication level is required'),
    )
    expect(await res.json()).toEqual({ mine: true, code: 'insufficient_user_authentication' })
  })

  it('refuses bad options where the decorator is written', () => {
    expect(() => RequireAuthentication({ acrValues: [] })).toThrow(
      /requireAuthentication: acrValues must be a non-empty array/,
    )
    expect(() => RequireAuthentication({})).toThrow(TypeError)
  })
})
