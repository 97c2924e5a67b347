/** Express 5: bare, ours (`authMiddleware`), express-jwt with a KeyObject or a PEM string. */
import { createPublicKey } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import express, { type RequestHandler } from 'express'
import { expressjwt } from 'express-jwt'
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
  const app = express()
  if (cfg.variant === 'noop') {
    app.use((req, _res, next) => {
      ;(req as { auth?: unknown }).auth = NOOP_AUTH
      next()
    })
  } else if (isOurs(cfg.variant)) {
    const authMiddleware = await oursAdapter<(options: unknown) => RequestHandler>('express')
    app.use(authMiddleware(oursAdapterOptions(cfg)))
  } else if (cfg.variant === 'peer' || cfg.variant === 'peer-pem') {
    const secret = cfg.variant === 'peer' ? createPublicKey(cfg.publicKeyPem) : cfg.publicKeyPem
    app.use(
      expressjwt({
        secret: secret as string,
        algorithms: ['RS256'],
        issuer: ISSUER,
        audience: AUDIENCE,
      }),
    )
  }
  app.get('/', (_req, res) => {
    counter.requests++
    res.json(BODY)
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
