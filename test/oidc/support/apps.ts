/**
 * The orders API in each framework, built with its adapter around one `createAuth` instance:
 * `GET /orders` requires `orders:read` and answers the caller's context.
 */
import { once } from 'node:events'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { type Auth, type AuthOptions, createAuth, discoverAuthOptions } from '@authframework/core'
import {
  authMiddleware as expressAuth,
  requirePermission as expressGuard,
} from '@authframework/express'
import { authPlugin } from '@authframework/fastify'
import { authMiddleware as koaAuth, requirePermission as koaGuard } from '@authframework/koa'
import Router from '@koa/router'
import express from 'express'
import Fastify from 'fastify'
import Koa from 'koa'
import { afterEach } from 'vitest'
import { API_CLIENT, ORDERS, type RunningProvider } from './provider.js'

export const ADAPTERS = ['express', 'koa', 'fastify'] as const
export type AdapterName = (typeof ADAPTERS)[number]

export interface OrdersApi {
  readonly url: string
  /** `GET /orders` with `Authorization: Bearer <token>`, or `DPoP <token>` and the proof. */
  get(
    token: string,
    dpop?: { scheme: 'Bearer' | 'DPoP'; proof: string },
  ): Promise<{ status: number; headers: Headers; body: unknown }>
  close(): Promise<void>
}

/** The orders API's options as a user would write them: issuer + discovery, at+jwt, its own audience. */
export async function ordersOptions(provider: RunningProvider): Promise<AuthOptions<never>> {
  const discovered = await discoverAuthOptions(provider.issuer, {
    introspection: {
      clientId: API_CLIENT,
      clientSecret: provider.secrets[API_CLIENT]!,
      clientIdAsSubject: true,
    },
  })
  return {
    ...discovered,
    algorithms: ['RS256'],
    audience: ORDERS,
    typ: 'at+jwt',
    permissionsClaim: 'scope',
  }
}

async function listen(server: Server): Promise<string> {
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

/**
 * For a `describe` of one adapter: starts an orders API over a new `createAuth(options)`, and
 * closes every API it started, with its instance, after each test.
 *
 * @example
 * const start = ordersApis('express')
 * const { auth, api } = await start(await ordersOptions(provider))
 */
export function ordersApis(
  name: AdapterName,
): (options: AuthOptions<never>) => Promise<{ auth: Auth<never>; api: OrdersApi }> {
  const open: Array<{ auth: Auth<never>; api: OrdersApi }> = []
  afterEach(async () => {
    for (const { auth, api } of open.splice(0)) {
      await api.close()
      await auth.close()
    }
  })
  return async (options) => {
    const auth = createAuth<never>(options)
    const api = await startOrdersApi(name, auth)
    open.push({ auth, api })
    return { auth, api }
  }
}

/** Starts the orders API for `name`. The caller owns (and closes) `auth`. */
export async function startOrdersApi(name: AdapterName, auth: Auth<never>): Promise<OrdersApi> {
  let url: string
  let stop: () => Promise<void>
  if (name === 'express') {
    const app = express()
    app.use(expressAuth(auth as Auth<express.Request>))
    app.get('/orders', expressGuard('orders:read'), (req, res) => {
      res.json({ auth: req.auth })
    })
    const server = createServer(app)
    url = await listen(server)
    stop = () => new Promise((r) => server.close(() => r()))
  } else if (name === 'koa') {
    const app = new Koa()
    const router = new Router()
    app.use(koaAuth(auth as never))
    router.get('/orders', koaGuard('orders:read'), (ctx) => {
      ctx.body = { auth: ctx.state.auth }
    })
    app.use(router.routes())
    const server = createServer(app.callback())
    url = await listen(server)
    stop = () => new Promise((r) => server.close(() => r()))
  } else {
    const app = Fastify()
    await app.register(authPlugin, { auth: auth as never })
    app.get('/orders', { preHandler: app.requirePermission('orders:read') }, async (req) => ({
      auth: req.auth,
    }))
    url = await app.listen({ port: 0, host: '127.0.0.1' })
    stop = () => app.close()
  }
  return {
    url,
    async get(token, dpop) {
      const response = await fetch(`${url}/orders`, {
        headers:
          dpop === undefined
            ? { authorization: `Bearer ${token}` }
            : { authorization: `${dpop.scheme} ${token}`, dpop: dpop.proof },
      })
      const text = await response.text()
      let body: unknown = text
      try {
        body = JSON.parse(text)
      } catch {}
      return { status: response.status, headers: response.headers, body }
    },
    close: stop,
  }
}
