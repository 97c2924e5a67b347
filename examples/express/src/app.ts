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
} from '@authframework/express'
import express, { type Express, type NextFunction, type Request, type Response } from 'express'

export interface BuildOptions {
  /** An auth instance, or the core options for one. */
  auth: Auth<Request> | AuthOptions<Request>
  /** The public JWK Set served at /.well-known/jwks.json. */
  jwks?: { keys: unknown[] }
  /** `POST /login` and `POST /logout`; absent: no login routes. */
  login?: LoginService
  /** The metrics given to `createAuth` (and the stores), served at `GET /metrics`. */
  metrics?: AuthMetrics
}

function send(res: Response, answer: Answer): void {
  res.writeHead(answer.status, answer.headers).end(answer.body)
}

/** Only the user named in the path (or an admin) may read that user's orders. */
const ownerOrAdmin = anyOf<Request>('admin', (auth, req) => auth.sub === req.params.userId)

/**
 * The example API: public, optional and protected routes with per-route permissions.
 *
 * @example
 * const app = buildApp({ auth: { publicKey, issuer, audience } })
 * app.listen(3000)
 */
export function buildApp(options: BuildOptions): Express {
  const auth = 'authenticate' in options.auth ? options.auth : createAuth<Request>(options.auth)
  const { login, metrics } = options
  const app = express()
  if (login) {
    // Before the JSON parser: the login service reads its own body and answers every refusal
    // (413, 400) as problem+json. The client address is read before anything awaits.
    app.post('/login', async (req, res) => send(res, await login.login(req, req.ip, metrics)))
  }
  app.use(express.json({ limit: '16kb' }))
  app.get('/health', (_req, res) => {
    res.json({ status: 'ok' })
  })
  app.get('/.well-known/jwks.json', (_req, res) => {
    res.json(options.jwks ?? { keys: [] })
  })
  if (metrics) {
    // Public so that the demo's curl line works. In production, protect it (a token with a
    // metrics permission) or serve it on an internal port that only the scraper reaches.
    app.get('/metrics', (_req, res) => send(res, metricsAnswer(metrics)))
  }
  app.use(
    authMiddleware(auth, {
      unless: ['/health', '/.well-known/*', '/login', '/metrics'],
      optional: ['/catalog'],
    }),
  )
  if (login) {
    app.post('/logout', async (req, res) => {
      send(res, await login.logout(auth, req.headers.authorization))
    })
  }
  // Optional: anonymous callers get the public catalog, a valid token a personalised one,
  // a bad token 401.
  app.get('/catalog', (req, res) => {
    res.json(catalogFor(req.auth))
  })
  app.get('/me', (req, res) => {
    res.json({ sub: req.auth?.sub, permissions: req.auth?.permissions })
  })
  app.get('/orders', requirePermission('orders:read'), (req, res) => {
    res.json({ orders: [{ id: 1, owner: req.auth?.sub }] })
  })
  app.post('/orders', requirePermission('orders:write'), (req, res) => {
    res.status(201).json({ created: req.body ?? {} })
  })
  app.get('/users/:userId/orders', requirePermission(ownerOrAdmin), (req, res) => {
    res.json({ user: req.params.userId, orders: [] })
  })
  // A body the JSON parser refused (or any other error): problem+json, never HTML or a stack trace.
  app.use((error: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(error)
    send(res, errorAnswer(error))
  })
  return app
}
