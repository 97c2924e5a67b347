/** The contract app on Hono, served on Node by @hono/node-server. */
import { createServer, type Server } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import { authMiddleware, requireAuthentication, requirePermission } from '@authframework/hono'
import { serve } from '@hono/node-server'
import { type Context, Hono } from 'hono'
import {
  MAX_HEADER,
  owner,
  PREFLIGHT_ANSWER,
  ROUTES,
  type RunningApp,
  type ServeOptions,
  send,
} from './contract-routes.js'

export async function startHono(
  options: Record<string, unknown>,
  serving: ServeOptions = {},
): Promise<RunningApp> {
  const app = new Hono()
  app.use(authMiddleware({ ...options, unless: ['/public'], optional: ['/catalog'] } as never))
  app.get('/public', (c) => c.json({ public: true }))
  app.get('/catalog', (c) => c.json({ auth: c.get('auth') ?? null }))
  app.options('/me', (c) => c.body(null, PREFLIGHT_ANSWER.status, PREFLIGHT_ANSWER.headers))
  for (const [path, reqs, stepUp] of ROUTES(owner((c: Context) => c.req.param('id')))) {
    const handler = (c: Context) => c.json({ auth: c.get('auth') ?? null })
    const guards = reqs ? [requirePermission(...(reqs as never[]))] : []
    if (stepUp) guards.unshift(requireAuthentication(stepUp))
    if (guards.length > 0) app.use(path, ...guards)
    app.get(path, handler)
  }
  const server = await new Promise<Server>((resolve) => {
    const s = serve(
      {
        fetch: app.fetch,
        port: 0,
        hostname: '127.0.0.1',
        ...(serving.tls === undefined
          ? { createServer, serverOptions: { maxHeaderSize: MAX_HEADER } }
          : {
              createServer: createHttpsServer,
              serverOptions: { ...serving.tls, maxHeaderSize: MAX_HEADER },
            }),
      },
      () => resolve(s as Server),
    )
  })
  const port = (server.address() as AddressInfo).port
  return {
    request: (path, headers = [], method = 'GET') => send(port, path, headers, method),
    port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  }
}
