import {
  type Auth,
  anyOf,
  authMiddleware,
  type KoaAuthOptions,
  requirePermission,
} from '@authframework/koa'
import Router from '@koa/router'
import Koa, { type Context } from 'koa'

export interface BuildOptions {
  /** An auth instance, or options for one. */
  auth: Auth<Context> | KoaAuthOptions
  /** The public JWK Set served at /.well-known/jwks.json. */
  jwks?: { keys: unknown[] }
}

/** Only the user named in the path (or an admin) may read that user's orders. */
const ownerOrAdmin = anyOf<Context>('admin', (auth, ctx) => auth.sub === ctx.params.userId)

/**
 * The example API: public, optional and protected routes with per-route permissions.
 *
 * @example
 * const app = buildApp({ auth: { publicKey, issuer, audience } })
 * app.listen(3000)
 */
export function buildApp(options: BuildOptions): Koa {
  const app = new Koa()
  const router = new Router()
  app.use(authMiddleware(options.auth, { unless: ['/health', '/.well-known/*'] }))
  router.get('/health', (ctx) => {
    ctx.body = { status: 'ok' }
  })
  router.get('/.well-known/jwks.json', (ctx) => {
    ctx.body = options.jwks ?? { keys: [] }
  })
  router.get('/me', (ctx) => {
    ctx.body = { sub: ctx.state.auth?.sub, permissions: ctx.state.auth?.permissions }
  })
  router.get('/orders', requirePermission('orders:read'), (ctx) => {
    ctx.body = { orders: [{ id: 1, owner: ctx.state.auth?.sub }] }
  })
  router.post('/orders', requirePermission('orders:write'), (ctx) => {
    ctx.status = 201
    ctx.body = { created: {} }
  })
  router.get('/users/:userId/orders', requirePermission(ownerOrAdmin), (ctx) => {
    ctx.body = { user: ctx.params.userId, orders: [] }
  })
  app.use(router.routes()).use(router.allowedMethods())
  return app
}
