/**
 * The contract app on NestJS, on either platform: the same routes as a controller built from the
 * table, `AuthGuard` global, `@Public()` and `@OptionalAuth()` where the other apps use `unless`
 * and `optional`.
 */
import 'reflect-metadata'
import type { RequestListener } from 'node:http'
import type { AddressInfo } from 'node:net'
import {
  Auth,
  type AuthContext,
  AuthGuard,
  AuthModule,
  type NestRequest,
  OptionalAuth,
  Public,
  RequireAuthentication,
  RequirePermission,
} from '@authframework/nestjs'
import {
  Controller,
  Get,
  Header,
  HttpCode,
  type INestApplication,
  Module,
  Options,
} from '@nestjs/common'
import { APP_GUARD, NestFactory } from '@nestjs/core'
import { ExpressAdapter } from '@nestjs/platform-express'
import { FastifyAdapter } from '@nestjs/platform-fastify'
import {
  appServer,
  owner,
  PREFLIGHT_ANSWER,
  ROUTES,
  type RunningApp,
  type ServeOptions,
  send,
} from './contract-routes.js'

const answer = (auth: AuthContext | undefined) => ({ auth: auth ?? null })

@Controller()
class FixedRoutes {
  @Public()
  @Get('public')
  public() {
    return { public: true }
  }

  @OptionalAuth()
  @Get('catalog')
  catalog(@Auth() auth: AuthContext | undefined) {
    return answer(auth)
  }

  @Options('me')
  @HttpCode(PREFLIGHT_ANSWER.status)
  @Header('access-control-allow-origin', PREFLIGHT_ANSWER.headers['access-control-allow-origin'])
  @Header('access-control-allow-methods', PREFLIGHT_ANSWER.headers['access-control-allow-methods'])
  preflight() {}
}

/** A controller with one method per contract route, decorated as an application would. */
function tableController(): new () => object {
  class TableRoutes {}
  const prototype = TableRoutes.prototype as unknown as Record<string, unknown>
  ROUTES(owner((req: NestRequest) => req.params.id)).forEach(([path, reqs, stepUp], i) => {
    const name = `route${i}`
    prototype[name] = (auth: AuthContext | undefined) => answer(auth)
    const descriptor = Object.getOwnPropertyDescriptor(prototype, name)!
    Get(path.slice(1))(prototype, name, descriptor)
    if (reqs) RequirePermission(...(reqs as never[]))(prototype, name, descriptor)
    if (stepUp) RequireAuthentication(stepUp)(prototype, name, descriptor)
    Auth()(prototype, name, 0)
  })
  Controller()(TableRoutes)
  return TableRoutes
}

export async function startNest(
  platform: 'express' | 'fastify',
  options: Record<string, unknown>,
  serve: ServeOptions = {},
): Promise<RunningApp> {
  @Module({
    imports: [AuthModule.forRoot(options as never)],
    controllers: [FixedRoutes, tableController()],
    providers: [{ provide: APP_GUARD, useClass: AuthGuard }],
  })
  class ContractModule {}

  let app: INestApplication
  let port: number
  if (platform === 'express') {
    app = await NestFactory.create(ContractModule, new ExpressAdapter(), { logger: false })
    await app.init()
    const server = appServer(app.getHttpAdapter().getInstance(), serve)
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    port = (server.address() as AddressInfo).port
    const close = app.close.bind(app)
    app.close = async () => {
      await new Promise((resolve) => server.close(resolve))
      await close()
    }
  } else {
    const adapter = new FastifyAdapter({
      serverFactory: (handler: RequestListener) => appServer(handler, serve),
    })
    app = await NestFactory.create(ContractModule, adapter, { logger: false })
    await app.listen(0, '127.0.0.1')
    port = (app.getHttpServer().address() as AddressInfo).port
  }
  return {
    request: (path, headers = [], method = 'GET') => send(port, path, headers, method),
    port,
    close: () => app.close(),
  }
}
