import type { AuthMetrics, AuthOptions } from '@authframework/core'
import {
  type Answer,
  catalogFor,
  type LoginService,
  metricsAnswer,
} from '@authframework/example-shared'
import { type Auth, anyOf, authMiddleware, createAuth, requirePermission } from '@authframework/koa'
import Router from '@koa/router'
import Koa, { type Context } from 'koa'

export interface BuildOptions {
  /** An auth instance, or the core options for one. */
  auth: Auth<Context> | AuthOptions<Context>
  /** The public JWK Set served at /.well-known/jwks.json. */
  jwks?: { keys: unknown[] }
  /** `POST /login` and `POST /logout`; absent: no login routes. */
  login?: LoginService
  /** The metrics given to `createAuth` (and the stores), served at `GET /metrics`. */
  metrics?: AuthMetrics
}

function send(ctx: Context, answer: Answer): void {
  ctx.status = answer.status
  ctx.set(answer.headers)
  // the content type as given (`ctx.type` would append a charset to application/problem+json)
  ctx.body = answer.body === '' ? null : answer.body
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
  const auth = 'authenticate' in options.auth ? options.auth : createAuth<Context>(options.auth)
  const { login, metrics } = options
  const app = new Koa()
  const router = new Router()
  app.use(
    authMiddleware(auth, {
      unless: ['/health', '/.well-known/*', '/login', '/metrics'],
      optional: ['/catalog'],
    }),
  )
  if (login) {
    router.post('/login', async (ctx) => {
      // read before anything awaits: the address goes with the socket if the client leaves
      const clientAddress = ctx.ip
      send(ctx, await login.login(ctx.req, clientAddress, metrics))
    })
    router.post('/logout', async (ctx) => {
      send(ctx, await login.logout(auth, ctx.get('authorization')))
    })
  }
  router.get('/health', (ctx) => {
    ctx.body = { status: 'ok' }
  })
  router.get('/.well-known/jwks.json', (ctx) => {
    ctx.body = options.jwks ?? { keys: [] }
  })
  if (metrics) {
    // Public so that the demo's curl line works. In production, protect it (a token with a
    // metrics permission) or serve it on an internal port that only the scraper reaches.
    router.get('/metrics', (ctx) => send(ctx, metricsAnswer(metrics)))
  }
  // Optional: anonymous callers get the public catalog, a valid token a personalised one,
  // a bad token 401.
  router.get('/catalog', (ctx) => {
    ctx.body = catalogFor(ctx.state.auth)
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
