/** Koa 3: bare, the no-op control, ours (`authMiddleware`), koa-jwt with a KeyObject. */
import { createPublicKey } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import Koa, { type Middleware } from 'koa'
import koaJwt from 'koa-jwt'
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
  const app = new Koa()
  if (cfg.variant === 'noop') {
    app.use((ctx, next) => {
      ctx.state.auth = NOOP_AUTH
      return next()
    })
  } else if (cfg.variant === 'peer') {
    const secret = createPublicKey(cfg.publicKeyPem) as unknown as string
    app.use(koaJwt({ secret, algorithms: ['RS256'], issuer: ISSUER, audience: AUDIENCE }))
  } else if (cfg.variant !== 'bare') {
    const o = await ours<(options: unknown) => Middleware, Middleware>('koa', cfg)
    app.use(o.factory(o.options))
    // one route, so the guard runs on every request as it would on `router.get('/', guard, …)`
    if (guarded(cfg.variant)) app.use(o.requirePermission(REQUIRED_PERMISSION))
  }
  app.use((ctx) => {
    counter.requests++
    ctx.body = BODY
  })
  return new Promise((resolve) => {
    const server = app.listen(0, '127.0.0.1', () =>
      resolve({
        port: (server.address() as AddressInfo).port,
        close: () => new Promise<void>((done) => server.close(() => done())),
      }),
    )
  })
}
