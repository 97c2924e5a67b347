/** Fastify 5: bare, ours (`authPlugin`), @fastify/jwt without and with its verification cache. */
import type { AddressInfo } from 'node:net'
import fastifyJwt from '@fastify/jwt'
import Fastify, { type FastifyPluginCallback, type preHandlerHookHandler } from 'fastify'
import { DEFAULT_CACHE } from '../../ours.js'
import { AUDIENCE, ISSUER } from '../../tokens.js'
import {
  BODY,
  type BuildApp,
  counter,
  guarded,
  isOurs,
  NOOP_AUTH,
  oursAdapter,
  oursAdapterOptions,
  REQUIRED_PERMISSION,
  storeOptions,
} from './common.js'

export const build: BuildApp = async (cfg) => {
  const app = Fastify({ logger: false })
  if (cfg.variant === 'noop') {
    // As a plugin would: a request decoration and a callback-style onRequest hook.
    app.decorateRequest('noopAuth', null)
    app.addHook('onRequest', (request, _reply, done) => {
      ;(request as unknown as { noopAuth: unknown }).noopAuth = NOOP_AUTH
      done()
    })
  } else if (isOurs(cfg.variant)) {
    const authPlugin = await oursAdapter<FastifyPluginCallback<Record<string, unknown>>>('fastify')
    await app.register(authPlugin, { ...oursAdapterOptions(cfg), ...(await storeOptions(cfg)) })
  } else if (cfg.variant === 'peer' || cfg.variant === 'peer-cache') {
    await app.register(fastifyJwt, {
      secret: { public: cfg.publicKeyPem },
      verify: {
        algorithms: ['RS256'],
        allowedIss: ISSUER,
        allowedAud: AUDIENCE,
        // Same capacity as ours, so rotating 10,000 tokens fits in both caches.
        cache: cfg.variant === 'peer-cache' ? DEFAULT_CACHE.max : false,
      },
    })
    app.addHook('onRequest', async (request) => {
      await request.jwtVerify()
    })
  }
  const handler = async () => {
    counter.requests++
    return BODY
  }
  if (guarded(cfg.variant)) {
    const guard = (
      app as unknown as { requirePermission(...r: string[]): preHandlerHookHandler }
    ).requirePermission(REQUIRED_PERMISSION)
    app.get('/', { preHandler: guard }, handler)
  } else {
    app.get('/', handler)
  }
  await app.listen({ port: 0, host: '127.0.0.1' })
  return { port: (app.server.address() as AddressInfo).port, close: () => app.close() }
}
