import 'reflect-metadata'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { AuthMetrics, AuthOptions } from '@authframework/core'
import {
  type Answer,
  catalogFor,
  type LoginService,
  metricsAnswer,
} from '@authframework/example-shared'
import {
  AUTH_INSTANCE,
  Auth,
  type AuthContext,
  AuthGuard,
  AuthModule,
  anyOf,
  type NestRequest,
  OptionalAuth,
  Public,
  RequirePermission,
} from '@authframework/nestjs'
import {
  Controller,
  Get,
  HttpCode,
  type INestApplication,
  Inject,
  Module,
  Param,
  Post,
  Req,
  Res,
} from '@nestjs/common'
import { APP_GUARD, NestFactory } from '@nestjs/core'
import { ExpressAdapter } from '@nestjs/platform-express'

export interface BuildOptions {
  /** An auth instance, or the core options for one. */
  auth: Auth | AuthOptions<NestRequest>
  /** The public JWK Set served at /.well-known/jwks.json. */
  jwks?: { keys: unknown[] }
  /** `POST /login` and `POST /logout`; absent: no login routes. */
  login?: LoginService
  /** The metrics given to `createAuth` (and the stores), served at `GET /metrics`. */
  metrics?: AuthMetrics
}

function send(res: ServerResponse, answer: Answer): void {
  res.writeHead(answer.status, answer.headers).end(answer.body)
}

/** Only the user named in the path (or an admin) may read that user's orders. */
const ownerOrAdmin = anyOf<NestRequest>('admin', (auth, req) => auth.sub === req.params.userId)

/** The controllers of one app: they close over its options, as providers would inject them. */
function controllers(options: BuildOptions) {
  const { login, metrics } = options

  @Controller()
  @Public()
  class PublicRoutes {
    @Get('health')
    health() {
      return { status: 'ok' }
    }

    @Get('.well-known/jwks.json')
    jwks() {
      return options.jwks ?? { keys: [] }
    }

    // Public so that the demo's curl line works. In production, protect it (a token with a
    // metrics permission) or serve it on an internal port that only the scraper reaches.
    @Get('metrics')
    metrics(@Res() res: ServerResponse) {
      if (metrics) send(res, metricsAnswer(metrics))
      else send(res, { status: 404, headers: {}, body: '' })
    }

    // The login service reads the body itself (the app has no body parser); the client address
    // is read before anything awaits.
    @Post('login')
    async login(@Req() req: IncomingMessage, @Res() res: ServerResponse) {
      const clientAddress = req.socket.remoteAddress
      if (!login) return send(res, { status: 404, headers: {}, body: '' })
      send(res, await login.login(req, clientAddress, metrics))
    }
  }

  @Controller()
  class ProtectedRoutes {
    // the module's instance, for revoking the token at logout
    constructor(@Inject(AUTH_INSTANCE) private readonly auth: Auth) {}

    @Post('logout')
    async logout(@Req() req: IncomingMessage, @Res() res: ServerResponse) {
      if (!login) return send(res, { status: 404, headers: {}, body: '' })
      send(res, await login.logout(this.auth, req.headers.authorization))
    }

    // Optional: anonymous callers get the public catalog, a valid token a personalised one,
    // a bad token 401.
    @OptionalAuth()
    @Get('catalog')
    catalog(@Auth() caller: AuthContext | undefined) {
      return catalogFor(caller)
    }

    @Get('me')
    me(@Auth() caller: AuthContext) {
      return { sub: caller.sub, permissions: caller.permissions }
    }

    @RequirePermission('orders:read')
    @Get('orders')
    orders(@Auth() caller: AuthContext) {
      return { orders: [{ id: 1, owner: caller.sub }] }
    }

    @RequirePermission('orders:write')
    @Post('orders')
    @HttpCode(201)
    create() {
      return { created: {} }
    }

    @RequirePermission(ownerOrAdmin)
    @Get('users/:userId/orders')
    ordersOf(@Param('userId') userId: string) {
      return { user: userId, orders: [] }
    }
  }

  return [PublicRoutes, ProtectedRoutes]
}

/**
 * The example API on NestJS (platform-express): public, optional and protected routes with
 * per-route permissions, `AuthGuard` global. Returns the initialised app, not yet listening.
 *
 * @example
 * const app = await buildApp({ auth: { publicKey, issuer, audience } })
 * await app.listen(3000)
 */
export async function buildApp(options: BuildOptions): Promise<INestApplication> {
  // options: the module builds the instance and closes it with the app; an instance is the caller's
  const auth = 'authenticate' in options.auth ? { auth: options.auth } : options.auth

  @Module({
    imports: [AuthModule.forRoot(auth)],
    controllers: controllers(options),
    providers: [{ provide: APP_GUARD, useClass: AuthGuard }],
  })
  class AppModule {}

  const app = await NestFactory.create(AppModule, new ExpressAdapter(), {
    bodyParser: false,
    logger: false,
  })
  return app.init()
}
