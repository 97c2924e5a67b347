/**
 * `errors: 'propagate'`: each adapter hands the AuthError to the framework's own error handling,
 * with `status` and `headers`, so that an app's error handler can take over.
 */
import { once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { AuthError } from '@authframework/core'
import {
  authMiddleware as expressAuth,
  requirePermission as expressGuard,
} from '@authframework/express'
import { authPlugin } from '@authframework/fastify'
import { authMiddleware as koaAuth, requirePermission as koaGuard } from '@authframework/koa'
import express from 'express'
import Fastify from 'fastify'
import Koa from 'koa'
import { describe, expect, it } from 'vitest'
import { baseOptions } from './support/apps.js'
import { token } from './support/tokens.js'

const options = { ...baseOptions(), errors: 'propagate' as const }

async function get(url: string, auth?: string) {
  const res = await fetch(url, { headers: auth ? { authorization: `Bearer ${auth}` } : {} })
  return { status: res.status, www: res.headers.get('www-authenticate'), body: await res.json() }
}

describe("errors: 'propagate'", () => {
  it('Express: next(err) reaches the app error handler with status and headers', async () => {
    const app = express()
    app.use(expressAuth(options as never))
    app.get('/orders', expressGuard('orders:write'), (_req, res) => {
      res.json({})
    })
    app.use(
      (err: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
        const e = err as AuthError
        res
          .status(e.status)
          .set(e.headers)
          .json({ mine: true, code: e.code, isAuthError: err instanceof AuthError })
      },
    )
    const server = createServer(app).listen(0, '127.0.0.1')
    await once(server, 'listening')
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/orders`
    try {
      expect(await get(url)).toEqual({
        status: 401,
        www: 'Bearer realm="api"',
        body: { mine: true, code: 'credentials_missing', isAuthError: true },
      })
      const denied = await get(url, token())
      expect(denied.status).toBe(403)
      expect(denied.body).toEqual({ mine: true, code: 'permission_denied', isAuthError: true })
      expect(denied.www).toContain('scope="orders:write"')
    } finally {
      server.close()
    }
  })

  it('Koa: the error is thrown to upstream middleware', async () => {
    const app = new Koa()
    app.use(async (ctx, next) => {
      try {
        await next()
      } catch (err) {
        const e = err as AuthError
        ctx.status = e.status
        ctx.set(e.headers)
        ctx.body = { mine: true, code: e.code, isAuthError: err instanceof AuthError }
      }
    })
    app.use(koaAuth(options as never))
    app.use(koaGuard('orders:write'))
    const server = createServer(app.callback()).listen(0, '127.0.0.1')
    await once(server, 'listening')
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/orders`
    try {
      expect(await get(url)).toEqual({
        status: 401,
        www: 'Bearer realm="api"',
        body: { mine: true, code: 'credentials_missing', isAuthError: true },
      })
      expect((await get(url, token())).body).toEqual({
        mine: true,
        code: 'permission_denied',
        isAuthError: true,
      })
    } finally {
      server.close()
    }
  })

  it("Fastify: the error goes to the app's error handler", async () => {
    const app = Fastify()
    app.setErrorHandler((err, _req, reply) => {
      const e = err as unknown as AuthError
      reply
        .code(e.status)
        .headers(e.headers)
        .send({ mine: true, code: e.code, isAuthError: err instanceof AuthError })
    })
    await app.register(authPlugin, options as never)
    app.get('/orders', { preHandler: app.requirePermission('orders:write') }, async () => ({}))
    const url = `${await app.listen({ port: 0, host: '127.0.0.1' })}/orders`
    try {
      expect(await get(url)).toEqual({
        status: 401,
        www: 'Bearer realm="api"',
        body: { mine: true, code: 'credentials_missing', isAuthError: true },
      })
      expect((await get(url, token())).body).toEqual({
        mine: true,
        code: 'permission_denied',
        isAuthError: true,
      })
    } finally {
      await app.close()
    }
  })

  it('Fastify without a custom handler still answers with the status and challenge', async () => {
    const app = Fastify()
    await app.register(authPlugin, options as never)
    app.get('/orders', async () => ({}))
    const url = `${await app.listen({ port: 0, host: '127.0.0.1' })}/orders`
    try {
      const res = await get(url)
      expect(res.status).toBe(401)
      expect(res.www).toBe('Bearer realm="api"')
    } finally {
      await app.close()
    }
  })
})
