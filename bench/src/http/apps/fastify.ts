/** Fastify 5: bare, the no-op control, ours (`authPlugin`), @fastify/jwt with its cache. */
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
  NOOP_AUTH,
  ours,
  REQUIRED_PERMISSION,
} from './common.js'

type Guarded = { requirePermission(...required: string[]): preHandlerHookHandler }

export const build: BuildApp = async (cfg) => {
  const app = Fastify({ logger: false })
  if (cfg.variant === 'noop') {
    // as a plugin would: a request decoration and a callback-style onRequest hook
    app.decorateRequest('noopAuth', null)
    app.addHook('onRequest', (request, _reply, done) => {
      ;(request as unknown as { noopAuth: unknown }).noopAuth = NOOP_AUTH
      done()
    })
  } else if (cfg.variant === 'peer') {
    // the same capacity as ours' cache
    const verify = {
      algorithms: ['RS256' as const],
      allowedIss: ISSUER,
      allowedAud: AUDIENCE,
      cache: DEFAULT_CACHE.max,
    }
    await app.register(fastifyJwt, { secret: { public: cfg.publicKeyPem }, verify })
    app.addHook('onRequest', async (request) => {
      await request.jwtVerify()
    })
  } else if (cfg.variant !== 'bare') {
    const o = await ours<FastifyPluginCallback<Record<string, unknown>>, never>('fastify', cfg)
    await app.register(o.factory, o.options)
  }
  const handler = async () => {
    counter.requests++
    return BODY
  }
  if (guarded(cfg.variant))
    app.get(
      '/',
      { preHandler: (app as unknown as Guarded).requirePermission(REQUIRED_PERMISSION) },
      handler,
    )
  else app.get('/', handler)
  await app.listen({ port: 0, host: '127.0.0.1' })
  return { port: (app.server.address() as AddressInfo).port, close: () => app.close() }
}
