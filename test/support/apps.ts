import { once } from 'node:events'
import { createServer, request as httpRequest, type Server } from 'node:http'
import { createRequire } from 'node:module'
import type { AddressInfo } from 'node:net'
import { type AuthOptions, allOf, anyOf, not, type Predicate } from '@authframework/core'
import {
  authMiddleware as expressAuth,
  requirePermission as expressGuard,
} from '@authframework/express'
import { authPlugin } from '@authframework/fastify'
import { authMiddleware as koaAuth, requirePermission as koaGuard } from '@authframework/koa'
import Router from '@koa/router'
import express from 'express'
import express4 from 'express4'
import Fastify from 'fastify'
import Fastify4 from 'fastify4'
import Koa from 'koa'
import Koa2 from 'koa2'
import { AUDIENCE, ISSUER, NOW, publicPem } from './tokens.js'

/** Node's default header limit (16 KiB) is raised so that oversized tokens reach the middleware. */
const MAX_HEADER = 65_536

export const ADAPTERS = ['express', 'koa', 'fastify'] as const
export type AdapterName = (typeof ADAPTERS)[number]

/**
 * Every supported framework major (the README names them): the current one under the framework's
 * own name, the previous one under an npm alias (`express4`, `koa2`, `fastify4`). A bare adapter
 * name means its current major.
 */
export const FRAMEWORK_MAJORS = [
  'express@5',
  'express@4',
  'koa@3',
  'koa@2',
  'fastify@5',
  'fastify@4',
] as const
export type FrameworkMajor = (typeof FRAMEWORK_MAJORS)[number]

const FRAMEWORKS = {
  'express@5': express,
  'express@4': express4,
  'koa@3': Koa,
  'koa@2': Koa2,
  'fastify@5': Fastify,
  // Fastify 4's types differ from 5's; the app below is the same code for both
  'fastify@4': Fastify4 as unknown as typeof Fastify,
} as const

/** The major version of the framework module `startApp` uses for `name`, read from its package.json. */
export function installedMajor(name: FrameworkMajor): number {
  const [framework, major] = name.split('@') as [string, string]
  const module =
    framework === 'koa'
      ? major === '3'
        ? 'koa'
        : 'koa2'
      : major === '5'
        ? framework
        : `${framework}4`
  const { version } = createRequire(import.meta.url)(`${module}/package.json`) as {
    version: string
  }
  return Number(version.split('.')[0])
}

function frameworkOf(name: AdapterName | FrameworkMajor) {
  const major = (name.includes('@') ? name : `${name}@${name === 'koa' ? 3 : 5}`) as FrameworkMajor
  return { adapter: major.slice(0, major.indexOf('@')) as AdapterName, major }
}

/** The options every contract app shares; cases may add more. */
export function baseOptions(): AuthOptions<never> {
  return {
    algorithms: ['RS256'],
    publicKey: publicPem,
    issuer: ISSUER,
    audience: AUDIENCE,
    clock: () => NOW * 1000,
    cookie: 'access_token',
  }
}

/**
 * The routes of the contract, the same in every framework. `sub` ownership is a custom predicate
 * that reads the route parameter through a framework-neutral accessor.
 */
const owner =
  (param: (request: never) => string | undefined): Predicate<never> =>
  async (auth, request) =>
    auth.sub === param(request)

type Route = readonly [path: string, requirements: unknown[] | undefined]

/**
 * The app's own answer to a CORS preflight of `/me` (registered after the auth middleware, so it
 * is reached only when authentication lets the preflight through): 204 with these headers.
 */
export const PREFLIGHT_ANSWER = {
  status: 204,
  headers: {
    'access-control-allow-origin': 'https://app.example',
    'access-control-allow-methods': 'GET',
  },
} as const

const ROUTES = (ownerOf: Predicate<never>): Route[] => [
  ['/me', undefined],
  ['/orders', ['orders:read']],
  ['/orders/write', ['orders:write']],
  ['/admin', [anyOf('admin', allOf('orders:write', 'invoices:write'))]],
  ['/active', ['orders:read', not('suspended')]],
  ['/users/:id', [ownerOf]],
]

export interface Response {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: unknown
  text: string
}

export interface RunningApp {
  request(path: string, headers?: [string, string][], method?: string): Promise<Response>
  close(): Promise<void>
}

async function listen(server: Server): Promise<number> {
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return (server.address() as AddressInfo).port
}

/** Sends a request with raw header pairs, so that a header can be repeated. */
function send(
  port: number,
  path: string,
  headers: [string, string][],
  method: string,
): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        path,
        method,
        headers: [['Host', `127.0.0.1:${port}`], ...headers].flat(),
      },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8')
          let body: unknown = text
          try {
            body = JSON.parse(text)
          } catch {}
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text })
        })
      },
    )
    req.on('error', reject)
    req.end()
  })
}

/** Builds and starts one framework's app with the contract routes and the given options. */
export async function startApp(
  name: AdapterName | FrameworkMajor,
  options: Record<string, unknown>,
): Promise<RunningApp> {
  let server: Server
  let stop: () => Promise<void>
  const { adapter, major } = frameworkOf(name)
  if (adapter === 'express') {
    const app = (FRAMEWORKS[major] as typeof express)()
    app.get('/public', (_req, res) => {
      res.json({ public: true })
    })
    app.use(expressAuth({ ...options, unless: ['/public'], optional: ['/catalog'] } as never))
    app.get('/catalog', (req, res) => {
      res.json({ auth: req.auth ?? null })
    })
    app.options('/me', (_req, res) => {
      res.status(PREFLIGHT_ANSWER.status).set(PREFLIGHT_ANSWER.headers).end()
    })
    for (const [path, reqs] of ROUTES(owner((req: express.Request) => req.params.id as string))) {
      const guards = reqs ? [expressGuard(...(reqs as never[]))] : []
      app.get(path, ...guards, (req, res) => {
        res.json({ auth: req.auth ?? null })
      })
    }
    server = createServer({ maxHeaderSize: MAX_HEADER }, app)
    await listen(server)
    stop = () => new Promise((r) => server.close(() => r()))
  } else if (adapter === 'koa') {
    const app = new (FRAMEWORKS[major] as typeof Koa)()
    const router = new Router()
    app.use(koaAuth({ ...options, unless: ['/public'], optional: ['/catalog'] } as never))
    router.get('/catalog', (ctx) => {
      ctx.body = { auth: ctx.state.auth ?? null }
    })
    router.get('/public', (ctx) => {
      ctx.body = { public: true }
    })
    router.options('/me', (ctx) => {
      ctx.set(PREFLIGHT_ANSWER.headers)
      ctx.status = PREFLIGHT_ANSWER.status
    })
    for (const [path, reqs] of ROUTES(owner((ctx: { params: { id: string } }) => ctx.params.id))) {
      const guards = reqs ? [koaGuard(...(reqs as never[]))] : []
      router.get(path, ...guards, (ctx) => {
        ctx.body = { auth: ctx.state.auth ?? null }
      })
    }
    app.use(router.routes())
    server = createServer({ maxHeaderSize: MAX_HEADER }, app.callback())
    await listen(server)
    stop = () => new Promise((r) => server.close(() => r()))
  } else {
    const app = (FRAMEWORKS[major] as typeof Fastify)({
      serverFactory: (handler) => createServer({ maxHeaderSize: MAX_HEADER }, handler),
    })
    await app.register(authPlugin, options as never)
    app.get('/public', { config: { auth: false } }, async () => ({ public: true }))
    app.options('/me', async (_req, reply) => {
      await reply.code(PREFLIGHT_ANSWER.status).headers(PREFLIGHT_ANSWER.headers).send()
    })
    app.get('/catalog', { config: { auth: 'optional' } }, async (req) => ({
      auth: req.auth ?? null,
    }))
    for (const [path, reqs] of ROUTES(owner((req: { params: { id: string } }) => req.params.id))) {
      const preHandler = reqs ? app.requirePermission(...(reqs as never[])) : undefined
      app.get(path, preHandler ? { preHandler } : {}, async (req) => ({ auth: req.auth ?? null }))
    }
    await app.listen({ port: 0, host: '127.0.0.1' })
    server = app.server
    stop = () => app.close()
  }
  const port = (server.address() as AddressInfo).port
  return {
    request: (path, headers = [], method = 'GET') => send(port, path, headers, method),
    close: stop,
  }
}
