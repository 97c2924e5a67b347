// The smoke test's apps for Hono (on @hono/node-server) and NestJS (on either platform), as the
// package READMEs write them; the decorators applied as functions, since this is plain JavaScript.
require('reflect-metadata')

async function startHono(adapter, options) {
  const { Hono } = require('hono')
  const { serve } = require('@hono/node-server')
  const { authMiddleware, requirePermission } = adapter
  const app = new Hono()
  app.use(authMiddleware(options))
  app.get('/orders', requirePermission('orders:read'), (c) => c.json({ sub: c.get('auth').sub }))
  const server = await new Promise((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s))
  })
  return { url: `http://127.0.0.1:${server.address().port}`, close: () => server.close() }
}

async function startNest(adapter, platform, options) {
  const { Controller, Get, Module } = require('@nestjs/common')
  const { APP_GUARD, NestFactory } = require('@nestjs/core')
  const { Auth, AuthGuard, AuthModule, RequirePermission } = adapter
  class OrdersController {
    orders(auth) {
      return { sub: auth.sub }
    }
  }
  const proto = OrdersController.prototype
  const descriptor = Object.getOwnPropertyDescriptor(proto, 'orders')
  Get('orders')(proto, 'orders', descriptor)
  RequirePermission('orders:read')(proto, 'orders', descriptor)
  Auth()(proto, 'orders', 0)
  Controller()(OrdersController)
  class AppModule {}
  Module({
    imports: [AuthModule.forRoot(options)],
    controllers: [OrdersController],
    providers: [{ provide: APP_GUARD, useClass: AuthGuard }],
  })(AppModule)
  const http = platform.FastifyAdapter
    ? new platform.FastifyAdapter()
    : new platform.ExpressAdapter()
  const app = await NestFactory.create(AppModule, http, { logger: false })
  await app.listen(0, '127.0.0.1')
  return { url: `http://127.0.0.1:${app.getHttpServer().address().port}`, close: () => app.close() }
}

module.exports = { startHono, startNest }
