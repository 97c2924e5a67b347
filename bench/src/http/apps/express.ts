/** Express 5: bare, the no-op control, ours (`authMiddleware`), express-jwt with a KeyObject. */
import { createPublicKey } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import express, { type RequestHandler } from 'express'
import { expressjwt } from 'express-jwt'
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
  const app = express()
  const route: RequestHandler[] = []
  if (cfg.variant === 'noop') {
    app.use((req, _res, next) => {
      ;(req as { auth?: unknown }).auth = NOOP_AUTH
      next()
    })
  } else if (cfg.variant === 'peer') {
    const secret = createPublicKey(cfg.publicKeyPem) as unknown as string
    app.use(expressjwt({ secret, algorithms: ['RS256'], issuer: ISSUER, audience: AUDIENCE }))
  } else if (cfg.variant !== 'bare') {
    const o = await ours<(options: unknown) => RequestHandler, RequestHandler>('express', cfg)
    app.use(o.factory(o.options))
    if (guarded(cfg.variant)) route.push(o.requirePermission(REQUIRED_PERMISSION))
  }
  app.get('/', ...route, (_req, res) => {
    counter.requests++
    res.json(BODY)
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
