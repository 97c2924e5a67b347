// A TypeScript app's view of the installed tarballs: strict, skipLibCheck false, no optional peer
// (ioredis, pg, prom-client, @node-rs/argon2) installed. Type-checked, never run.
import {
  type AuthContext,
  AuthError,
  createAuth,
  createSigner,
  type postgresSource,
  type redisLayer,
} from '@authframework/core'
import type { createRateLimiter } from '@authframework/core/login'
import { authMiddleware as expressAuth, requirePermission } from '@authframework/express'
import { authPlugin } from '@authframework/fastify'
import { authMiddleware as honoAuth, requirePermission as honoGuard } from '@authframework/hono'
import { authMiddleware as koaAuth } from '@authframework/koa'
import { Auth, AuthGuard, AuthModule, RequirePermission } from '@authframework/nestjs'
import { Controller, Get, Module } from '@nestjs/common'
import { APP_GUARD } from '@nestjs/core'
import express from 'express'
import Fastify from 'fastify'
import { Hono } from 'hono'
import Koa from 'koa'

// the app's claims, declared once: every adapter's auth context sees them
declare module '@authframework/core' {
  interface AuthClaims {
    email: string
    tenant?: string
  }
}

const signer = createSigner({ algorithm: 'ES256', issuer: 'https://issuer.example' })
const options = {
  algorithms: ['ES256'] as const,
  publicKey: signer.publicKey!,
  issuer: 'https://issuer.example',
}

const app = express()
app.use(expressAuth({ ...options, algorithms: ['ES256'], unless: ['/health'] }))
app.get('/orders', requirePermission('orders:read'), (req, res) => {
  const auth: AuthContext | undefined = req.auth
  const email: string | undefined = req.auth?.claims.email
  // @ts-expect-error: a declared claim keeps its type
  const wrong: number | undefined = req.auth?.claims.email
  res.json({ sub: auth?.sub, email, wrong })
})

const koa = new Koa()
koa.use(koaAuth({ ...options, algorithms: ['ES256'] }))
koa.use((ctx) => {
  const sub: string | undefined = ctx.state.auth?.sub
  const tenant: string | undefined = ctx.state.auth?.claims.tenant
  ctx.body = { sub, tenant }
})

const fastify = Fastify()
await fastify.register(authPlugin, { ...options, algorithms: ['ES256'] })
fastify.get(
  '/orders',
  { preHandler: fastify.requirePermission('orders:read') },
  async (request) => {
    const sub: string | undefined = request.auth?.sub
    return { sub }
  },
)

const hono = new Hono()
hono.use(honoAuth({ ...options, algorithms: ['ES256'] }))
hono.get('/orders', honoGuard('orders:read'), (c) => {
  const email: string | undefined = c.get('auth')?.claims.email
  return c.json({ sub: c.var.auth?.sub, email })
})

@Controller()
class OrdersController {
  @RequirePermission('orders:read', (auth, req) => auth.sub === req.params.id)
  @Get('orders/:id')
  list(@Auth() auth: AuthContext) {
    const email: string = auth.claims.email
    return { sub: auth.sub, email }
  }
}

@Module({
  imports: [AuthModule.forRoot({ ...options, algorithms: ['ES256'] })],
  controllers: [OrdersController],
  providers: [{ provide: APP_GUARD, useClass: AuthGuard }],
})
export class AppModule {}

const auth = createAuth({ ...options, algorithms: ['ES256'] })
try {
  await auth.verify(signer.sign({ sub: 'user-42' }))
} catch (error) {
  if (error instanceof AuthError) console.log(error.code)
}

// the optional peers' shapes, described by the core itself
type LayerOptions = Parameters<typeof redisLayer>[0]
type SourceOptions = Parameters<typeof postgresSource>[0]
export type Peers = [LayerOptions['client'], SourceOptions, typeof createRateLimiter]
