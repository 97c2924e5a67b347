/** Hono 4 on @hono/node-server: bare, the no-op control, ours (`authMiddleware`), hono/jwt. */
import type { AddressInfo } from 'node:net'
import { serve } from '@hono/node-server'
import { Hono, type MiddlewareHandler } from 'hono'
import { jwt } from 'hono/jwt'
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

export const build: BuildApp = async (cfg) => {
  const app = new Hono()
  if (cfg.variant === 'noop') {
    app.use((c, next) => {
      c.set('auth' as never, NOOP_AUTH as never)
      return next()
    })
  } else if (cfg.variant === 'peer') {
    // Hono's own: the PEM imported through WebCrypto, iss and aud checked
    const verification = { iss: ISSUER, aud: AUDIENCE }
    app.use(jwt({ secret: cfg.publicKeyPem, alg: 'RS256', verification }))
  } else if (cfg.variant !== 'bare') {
    const o = await ours<(options: unknown) => MiddlewareHandler, MiddlewareHandler>('hono', cfg)
    app.use(o.factory(o.options))
    if (guarded(cfg.variant)) app.use(o.requirePermission(REQUIRED_PERMISSION))
  }
  app.get('/', (c) => {
    counter.requests++
    return c.json(BODY)
  })
  return new Promise((resolve) => {
    const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) =>
      resolve({
        port: (info as AddressInfo).port,
        close: () => new Promise<void>((done) => server.close(() => done())),
      }),
    )
  })
}
