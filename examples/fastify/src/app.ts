import type { AuthMetrics, AuthOptions } from '@authframework/core'
import {
  type Answer,
  catalogFor,
  type LoginService,
  metricsAnswer,
} from '@authframework/example-shared'
import { errorAnswer } from '@authframework/example-shared/login'
import { type Auth, anyOf, authPlugin, createAuth } from '@authframework/fastify'
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'

export interface BuildOptions {
  /** `{ auth }` with an instance, or the core options for one. */
  auth: { auth: Auth<FastifyRequest> } | AuthOptions<FastifyRequest>
  /** The public JWK Set served at /.well-known/jwks.json. */
  jwks?: { keys: unknown[] }
  /** `POST /login` and `POST /logout`; absent: no login routes. */
  login?: LoginService
  /** The metrics given to `createAuth` (and the stores), served at `GET /metrics`. */
  metrics?: AuthMetrics
}

function send(reply: FastifyReply, answer: Answer): FastifyReply {
  // bytes: sent with the content type as given (a string would get `; charset=utf-8` added)
  return reply
    .code(answer.status)
    .headers(answer.headers)
    .send(answer.body === '' ? undefined : Buffer.from(answer.body))
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
  const given = 'auth' in options.auth ? options.auth.auth : undefined
  const auth = given ?? createAuth<FastifyRequest>(options.auth as AuthOptions<FastifyRequest>)
  if (given === undefined) app.addHook('onClose', () => auth.close())
  await app.register(authPlugin, { auth })
  const publicRoute = { config: { auth: false } }
  const optionalRoute = { config: { auth: 'optional' as const } }
  const { login, metrics } = options
  if (login) {
    await app.register(async (scope) => {
      // The login service reads its own body: Fastify's parsers are left out of this route, and
      // whatever Fastify refuses before the handler (a malformed Content-Type) is problem+json.
      scope.removeAllContentTypeParsers()
      scope.addContentTypeParser('*', (_req, _payload, done) => done(null, undefined))
      scope.setErrorHandler((error, _req, reply) => send(reply, errorAnswer(error)))
      scope.post('/login', publicRoute, async (req, reply) => {
        const clientAddress = req.ip // before anything awaits
        return send(reply, await login.login(req.raw, clientAddress, metrics))
      })
    })
    app.post('/logout', async (req, reply) =>
      send(reply, await login.logout(auth, req.headers.authorization)),
    )
  }
  app.get('/health', publicRoute, async () => ({ status: 'ok' }))
  app.get('/.well-known/jwks.json', publicRoute, async () => options.jwks ?? { keys: [] })
  if (metrics) {
    // Public so that the demo's curl line works. In production, protect it (a token with a
    // metrics permission) or serve it on an internal port that only the scraper reaches.
    app.get('/metrics', publicRoute, async (_req, reply) => send(reply, metricsAnswer(metrics)))
  }
  // Optional: anonymous callers get the public catalog, a valid token a personalised one,
  // a bad token 401.
  app.get('/catalog', optionalRoute, async (req) => catalogFor(req.auth))
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
