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
  guarded,
  isOurs,
  NOOP_AUTH,
  oursAdapter,
  oursAdapterOptions,
  REQUIRED_PERMISSION,
  storeOptions,
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
    app.use(authMiddleware({ ...oursAdapterOptions(cfg), ...(await storeOptions(cfg)) }))
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
  const handler: RequestHandler = (_req, res) => {
    counter.requests++
    res.json(BODY)
  }
  if (guarded(cfg.variant)) {
    const { requirePermission } = (await import('@authframework/express')) as unknown as {
      requirePermission(...r: string[]): RequestHandler
    }
    app.get('/', requirePermission(REQUIRED_PERMISSION), handler)
  } else {
    app.get('/', handler)
  }
  return new Promise((resolve) => {
    const server = app.listen(0, '127.0.0.1', () => {
      resolve({
        port: (server.address() as AddressInfo).port,
        close: () => new Promise<void>((done) => server.close(() => done())),
      })
    })
  })
}
