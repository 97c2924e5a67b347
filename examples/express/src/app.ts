import {
  type Auth,
  anyOf,
  authMiddleware,
  type ExpressAuthOptions,
  requirePermission,
} from '@authframework/express'
import express, { type Express, type Request } from 'express'

export interface BuildOptions {
  /** An auth instance, or options for one. */
  auth: Auth<Request> | ExpressAuthOptions
  /** The public JWK Set served at /.well-known/jwks.json. */
  jwks?: { keys: unknown[] }
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
  const app = express()
  app.use(express.json())
  app.get('/health', (_req, res) => {
    res.json({ status: 'ok' })
  })
  app.get('/.well-known/jwks.json', (_req, res) => {
    res.json(options.jwks ?? { keys: [] })
  })
  app.use(authMiddleware(options.auth, { unless: ['/health', '/.well-known/*'] }))
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
  return app
}
