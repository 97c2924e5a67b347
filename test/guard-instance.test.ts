/**
 * Express and Koa route guards are plain middleware: `requirePermission` answers with the
 * instance that authenticated the request (its realm, its error mode), found per request, and
 * refuses to run where no `authMiddleware` ran before it. Fastify's guard is the instance's own
 * (`app.requirePermission`), so it has nothing to find.
 */
import { once } from 'node:events'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import {
  authMiddleware as expressAuth,
  requirePermission as expressGuard,
} from '@authframework/express'
import { authMiddleware as koaAuth, requirePermission as koaGuard } from '@authframework/koa'
import express from 'express'
import Koa from 'koa'
import { afterEach, describe, expect, it } from 'vitest'
import { baseOptions } from './support/apps.js'
import { withPerms } from './support/tokens.js'

const servers: Server[] = []
afterEach(async () => {
  for (const s of servers.splice(0)) s.close()
})

async function listen(handler: Parameters<typeof createServer>[1]): Promise<string> {
  const server = createServer(handler)
  servers.push(server)
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

async function get(url: string, token?: string) {
  const res = await fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {} })
  return { status: res.status, www: res.headers.get('www-authenticate') }
}

const reader = withPerms('orders:read')

describe('Express: requirePermission and the instance that authenticated', () => {
  it('answers with the realm of the instance mounted on the route’s router', async () => {
    const app = express()
    for (const realm of ['orders', 'billing']) {
      const router = express.Router()
      router.use(expressAuth({ ...baseOptions(), realm } as never))
      router.get('/write', expressGuard('orders:write'), (_req, res) => {
        res.json({})
      })
      app.use(`/${realm}`, router)
    }
    const base = await listen(app)
    for (const realm of ['orders', 'billing']) {
      const res = await get(`${base}/${realm}/write`, reader)
      expect(res.status).toBe(403)
      expect(res.www).toContain(`realm="${realm}"`)
      expect(res.www).toContain('error="insufficient_scope"')
    }
  })

  it('fails the request (500) where no authMiddleware ran, and never calls the route', async () => {
    const app = express()
    let reached = false
    app.get('/write', expressGuard('orders:write'), (_req, res) => {
      reached = true
      res.json({})
    })
    const base = await listen(app)
    expect((await get(`${base}/write`, reader)).status).toBe(500)
    expect(reached).toBe(false)
  })

  it('does not carry one request’s instance over to the next request', async () => {
    const app = express()
    app.use('/auth', expressAuth(baseOptions() as never))
    app.get('/auth/read', expressGuard('orders:read'), (_req, res) => {
      res.json({})
    })
    // the same guard on a route outside the middleware's path
    app.get('/open/read', expressGuard('orders:read'), (_req, res) => {
      res.json({})
    })
    const base = await listen(app)
    expect((await get(`${base}/auth/read`, reader)).status).toBe(200)
    expect((await get(`${base}/open/read`, reader)).status).toBe(500)
  })
})

describe('Koa: requirePermission and the instance that authenticated', () => {
  it('fails the request (500) where no authMiddleware ran, and never calls the route', async () => {
    const app = new Koa()
    app.silent = true
    let reached = false
    app.use(koaGuard('orders:write'))
    app.use((ctx) => {
      reached = true
      ctx.body = {}
    })
    const base = await listen(app.callback())
    expect((await get(`${base}/`, reader)).status).toBe(500)
    expect(reached).toBe(false)
  })

  it('answers with the realm of the instance that ran', async () => {
    const app = new Koa()
    app.use(koaAuth({ ...baseOptions(), realm: 'billing' } as never))
    app.use(koaGuard('orders:write'))
    app.use((ctx) => {
      ctx.body = {}
    })
    const base = await listen(app.callback())
    const res = await get(`${base}/`, reader)
    expect(res.status).toBe(403)
    expect(res.www).toContain('realm="billing"')
  })
})
