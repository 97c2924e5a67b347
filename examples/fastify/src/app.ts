import { anyOf, authPlugin, type FastifyAuthOptions } from '@authframework/fastify'
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify'

export interface BuildOptions {
  /** Plugin options: `{ auth }` with an instance, or the options for one. */
  auth: FastifyAuthOptions
  /** The public JWK Set served at /.well-known/jwks.json. */
  jwks?: { keys: unknown[] }
}

/** Only the user named in the path (or an admin) may read that user's orders. */
const ownerOrAdmin = anyOf<FastifyRequest>(
  'admin',
  (auth, req) => auth.sub === (req.params as { userId: string }).userId,
)

/**
 * The example API: public, optional and protected routes with per-route permissions.
 *
 * @example
 * const app = await buildApp({ auth: { publicKey, issuer, audience } })
 * await app.listen({ port: 3000 })
 */
export async function buildApp(options: BuildOptions): Promise<FastifyInstance> {
  const app = Fastify()
  await app.register(authPlugin, options.auth)
  const publicRoute = { config: { auth: false } }
  app.get('/health', publicRoute, async () => ({ status: 'ok' }))
  app.get('/.well-known/jwks.json', publicRoute, async () => options.jwks ?? { keys: [] })
  app.get('/me', async (req) => ({ sub: req.auth?.sub, permissions: req.auth?.permissions }))
  app.get('/orders', { preHandler: app.requirePermission('orders:read') }, async (req) => ({
    orders: [{ id: 1, owner: req.auth?.sub }],
  }))
  app.post(
    '/orders',
    { preHandler: app.requirePermission('orders:write') },
    async (_req, reply) => {
      reply.code(201)
      return { created: {} }
    },
  )
  app.get<{ Params: { userId: string } }>(
    '/users/:userId/orders',
    { preHandler: app.requirePermission(ownerOrAdmin) },
    async (req) => ({ user: req.params.userId, orders: [] }),
  )
  return app
}
