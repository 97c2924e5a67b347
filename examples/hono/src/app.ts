import type { AuthMetrics, AuthOptions } from '@authframework/core'
import {
  type Answer,
  catalogFor,
  type LoginService,
  metricsAnswer,
} from '@authframework/example-shared'
import { errorAnswer } from '@authframework/example-shared/login'
import {
  type Auth,
  anyOf,
  authMiddleware,
  createAuth,
  requirePermission,
} from '@authframework/hono'
import type { HttpBindings } from '@hono/node-server'
import { type Context, Hono } from 'hono'

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

/** The app on Node: `c.env.incoming` is Node's request (@hono/node-server). */
export type ExampleApp = Hono<{ Bindings: HttpBindings }>

function send(answer: Answer): Response {
  return new Response(answer.body === '' ? null : answer.body, {
    status: answer.status,
    headers: answer.headers,
  })
}

/** Only the user named in the path (or an admin) may read that user's orders. */
const ownerOrAdmin = anyOf<Context>('admin', (auth, c) => auth.sub === c.req.param('userId'))

/**
 * The example API: public, optional and protected routes with per-route permissions.
 *
 * @example
 * const app = buildApp({ auth: { publicKey, issuer, audience } })
 * serve({ fetch: app.fetch, port: 3000 })
 */
export function buildApp(options: BuildOptions): ExampleApp {
  const auth = 'authenticate' in options.auth ? options.auth : createAuth<Context>(options.auth)
  const { login, metrics } = options
  const app: ExampleApp = new Hono()
  app.use(
    authMiddleware(auth, {
      unless: ['/health', '/.well-known/*', '/login', '/metrics'],
      optional: ['/catalog'],
    }),
  )
  if (login) {
    // The login service reads Node's request body itself (Hono has not touched it); the client
    // address is read before anything awaits.
    app.post('/login', async (c) => {
      const { incoming } = c.env
      return send(await login.login(incoming, incoming.socket.remoteAddress, metrics))
    })
    app.post('/logout', async (c) => send(await login.logout(auth, c.req.header('authorization'))))
  }
  app.get('/health', (c) => c.json({ status: 'ok' }))
  app.get('/.well-known/jwks.json', (c) => c.json(options.jwks ?? { keys: [] }))
  if (metrics) {
    // Public so that the demo's curl line works. In production, protect it (a token with a
    // metrics permission) or serve it on an internal port that only the scraper reaches.
    app.get('/metrics', () => send(metricsAnswer(metrics)))
  }
  // Optional: anonymous callers get the public catalog, a valid token a personalised one,
  // a bad token 401.
  app.get('/catalog', (c) => c.json(catalogFor(c.get('auth'))))
  app.get('/me', (c) =>
    c.json({ sub: c.get('auth')?.sub, permissions: c.get('auth')?.permissions }),
  )
  app.get('/orders', requirePermission('orders:read'), (c) =>
    c.json({ orders: [{ id: 1, owner: c.get('auth')?.sub }] }),
  )
  app.post('/orders', requirePermission('orders:write'), (c) => c.json({ created: {} }, 201))
  app.get('/users/:userId/orders', requirePermission(ownerOrAdmin), (c) =>
    c.json({ user: c.req.param('userId'), orders: [] }),
  )
  // anything else thrown: problem+json, never a stack trace
  app.onError((error) => send(errorAnswer(error)))
  return app
}
