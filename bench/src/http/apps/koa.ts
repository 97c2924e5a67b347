/** Koa 3: bare, ours (`authMiddleware`), koa-jwt with a KeyObject or a PEM string. */
import { createPublicKey } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import Koa, { type Middleware } from 'koa'
import koaJwt from 'koa-jwt'
import { AUDIENCE, ISSUER } from '../../tokens.js'
import {
  BODY,
  type BuildApp,
  counter,
  isOurs,
  NOOP_AUTH,
  oursAdapter,
  oursAdapterOptions,
} from './common.js'

export const build: BuildApp = async (cfg) => {
  const app = new Koa()
  if (cfg.variant === 'noop') {
    app.use((ctx, next) => {
      ctx.state.auth = NOOP_AUTH
      return next()
    })
  } else if (isOurs(cfg.variant)) {
    const authMiddleware = await oursAdapter<(options: unknown) => Middleware>('koa')
    app.use(authMiddleware(oursAdapterOptions(cfg)))
  } else if (cfg.variant === 'peer' || cfg.variant === 'peer-pem') {
    const secret = cfg.variant === 'peer' ? createPublicKey(cfg.publicKeyPem) : cfg.publicKeyPem
    app.use(
      koaJwt({
        secret: secret as string,
        algorithms: ['RS256'],
        issuer: ISSUER,
        audience: AUDIENCE,
      }),
    )
  }
  app.use((ctx) => {
    counter.requests++
    ctx.body = BODY
  })
  return new Promise((resolve) => {
    const server = app.listen(0, '127.0.0.1', () => {
      resolve({
        port: (server.address() as AddressInfo).port,
        close: () => new Promise<void>((done) => server.close(() => done())),
      })
    })
  })
}
