/** The README's app, as written there (its options aside), answers as the README says. */
import 'reflect-metadata'
import type { AddressInfo } from 'node:net'
import {
  Auth,
  type AuthContext,
  AuthGuard,
  AuthModule,
  anyOf,
  createSigner,
  OptionalAuth,
  Public,
  RequireAuthentication,
  RequirePermission,
} from '@authframework/nestjs'
import { Controller, Get, type INestApplication, Module, Post } from '@nestjs/common'
import { APP_GUARD, NestFactory } from '@nestjs/core'
import { FastifyAdapter } from '@nestjs/platform-fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const signer = createSigner({ algorithm: 'RS256', issuer: 'https://issuer.example' })

@Controller()
class OrdersController {
  @Public() // no authentication at all, even under the global guard
  @Get('health')
  health() {
    return { status: 'ok' }
  }

  @OptionalAuth() // anonymous callers get `undefined`; bad credentials are still refused
  @Get('catalog')
  catalog(@Auth() auth: AuthContext | undefined) {
    return { personalised: auth !== undefined }
  }

  @RequirePermission('orders:read')
  @Get('orders')
  list(@Auth() auth: AuthContext) {
    return { sub: auth.sub }
  }

  // strings, allOf/anyOf/not and predicates over (auth, request), as in every adapter
  @RequirePermission(anyOf('admin', (auth, req) => auth.sub === req.params.userId))
  @Get('users/:userId/orders')
  ordersOf(@Auth() auth: AuthContext) {
    return { sub: auth.sub }
  }

  // step-up (RFC 9470): a second factor within the last 5 minutes, checked before the permission
  @RequireAuthentication({ acrValues: ['mfa'], maxAgeSeconds: 300 })
  @RequirePermission('orders:write')
  @Post('orders')
  create(@Auth() auth: AuthContext) {
    return { sub: auth.sub }
  }
}

@Module({
  imports: [
    AuthModule.forRoot({
      algorithms: ['RS256'],
      publicKey: signer.publicKey!,
      issuer: 'https://issuer.example',
      audience: 'orders-api',
    }),
  ],
  controllers: [OrdersController],
  // every route authenticated; or `@UseGuards(AuthGuard)` on the controllers that need it
  providers: [{ provide: APP_GUARD, useClass: AuthGuard }],
})
class AppModule {}

describe.each(['express', 'fastify'])('the README app on platform-%s', (platform) => {
  let app: INestApplication
  let url: string
  const get = (path: string, sub?: string, perms: string[] = []) =>
    fetch(`${url}${path}`, {
      headers: sub
        ? { authorization: `Bearer ${signer.sign({ sub, aud: 'orders-api', perms })}` }
        : {},
    })

  beforeAll(async () => {
    app =
      platform === 'fastify'
        ? await NestFactory.create(AppModule, new FastifyAdapter(), { logger: false })
        : await NestFactory.create(AppModule, { logger: false })
    await app.listen(0, '127.0.0.1')
    url = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`
  })
  afterAll(() => app.close())

  it('answers as documented', async () => {
    expect((await get('/health')).status).toBe(200)
    expect(await (await get('/catalog')).json()).toEqual({ personalised: false })
    expect(await (await get('/catalog', 'u1')).json()).toEqual({ personalised: true })
    const anonymous = await get('/orders')
    expect(anonymous.status).toBe(401)
    expect(anonymous.headers.get('www-authenticate')).toBe('Bearer realm="api"')
    expect((await get('/orders', 'u1')).status).toBe(403)
    expect(await (await get('/orders', 'u1', ['orders:read'])).json()).toEqual({ sub: 'u1' })
    expect((await get('/users/u1/orders', 'u1')).status).toBe(200)
    expect((await get('/users/u2/orders', 'u1')).status).toBe(403)
    expect((await get('/users/u2/orders', 'u1', ['admin'])).status).toBe(200)
  })

  it('challenges a weak or old authentication before the permission', async () => {
    const post = (claims: Record<string, unknown>) =>
      fetch(`${url}/orders`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${signer.sign({ sub: 'u1', aud: 'orders-api', ...claims })}`,
        },
      })
    const now = Math.floor(Date.now() / 1000)
    const weak = await post({ acr: 'pwd', auth_time: now })
    expect(weak.status).toBe(401)
    expect(weak.headers.get('www-authenticate')).toBe(
      'Bearer realm="api", error="insufficient_user_authentication", error_description="A different authentication level is required.", acr_values="mfa", max_age="300"',
    )
    expect((await post({ acr: 'mfa', auth_time: now - 301, perms: ['orders:write'] })).status).toBe(
      401,
    )
    expect((await post({ acr: 'mfa', auth_time: now })).status).toBe(403)
    expect((await post({ acr: 'mfa', auth_time: now, perms: ['orders:write'] })).status).toBe(201)
  })
})
