import { existsSync, readFileSync } from 'node:fs'
import type { Server } from 'node:http'
import { createRequire } from 'node:module'
import type { AddressInfo } from 'node:net'
import { dirname, join } from 'node:path'
import type { AuthOptions } from '@authframework/core'
import {
  authMiddleware as expressAuth,
  requirePermission as expressGuard,
  requireAuthentication as expressStepUp,
} from '@authframework/express'
import { authPlugin } from '@authframework/fastify'
import {
  authMiddleware as koaAuth,
  requirePermission as koaGuard,
  requireAuthentication as koaStepUp,
} from '@authframework/koa'
import Router from '@koa/router'
import express from 'express'
import express4 from 'express4'
import Fastify from 'fastify'
import Fastify4 from 'fastify4'
import Koa from 'koa'
import Koa2 from 'koa2'
import { afterAll, beforeAll } from 'vitest'
import { startHono } from './apps-hono.js'
import { startNest } from './apps-nest.js'
import {
  appServer,
  listen,
  owner,
  PREFLIGHT_ANSWER,
  ROUTES,
  type RunningApp,
  type ServeOptions,
  send,
} from './contract-routes.js'
import { AUDIENCE, ISSUER, NOW, publicPem } from './tokens.js'

export {
  PREFLIGHT_ANSWER,
  problemBody,
  type Response,
  type RunningApp,
  type ServeOptions,
} from './contract-routes.js'

/** Every adapter; NestJS on each of its platforms. */
export const ADAPTERS = [
  'express',
  'koa',
  'fastify',
  'hono',
  'nestjs-express',
  'nestjs-fastify',
] as const
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
  'hono@4',
  'nestjs-express@11',
  'nestjs-fastify@11',
] as const
export type FrameworkMajor = (typeof FRAMEWORK_MAJORS)[number]

const FRAMEWORKS: Partial<Record<FrameworkMajor, unknown>> = {
  'express@5': express,
  'express@4': express4,
  'koa@3': Koa,
  'koa@2': Koa2,
  'fastify@5': Fastify,
  // Fastify 4's types differ from 5's; the app below is the same code for both
  'fastify@4': Fastify4 as unknown as typeof Fastify,
} as const

/** A package's version, also of one whose `exports` hide its package.json (Hono). */
function packageVersion(module: string): string {
  const require = createRequire(import.meta.url)
  try {
    return (require(`${module}/package.json`) as { version: string }).version
  } catch {}
  for (let dir = dirname(require.resolve(module)); dir !== dirname(dir); dir = dirname(dir)) {
    const file = join(dir, 'package.json')
    if (!existsSync(file)) continue
    const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version: string }
    if (pkg.name === module) return pkg.version
  }
  throw new Error(`no package.json of ${module}`)
}

/** The major version of the framework module `startApp` uses for `name`, read from its package.json. */
export function installedMajor(name: FrameworkMajor): number {
  const [framework, major] = name.split('@') as [string, string]
  const module = framework.startsWith('nestjs')
    ? '@nestjs/core'
    : framework === 'hono'
      ? 'hono'
      : framework === 'koa'
        ? major === '3'
          ? 'koa'
          : 'koa2'
        : major === '5'
          ? framework
          : `${framework}4`
  return Number(packageVersion(module).split('.')[0])
}

/** The current major of each adapter's framework: what a bare adapter name means. */
const CURRENT: Record<AdapterName, number> = {
  express: 5,
  koa: 3,
  fastify: 5,
  hono: 4,
  'nestjs-express': 11,
  'nestjs-fastify': 11,
}

function frameworkOf(name: AdapterName | FrameworkMajor) {
  const major = (
    name.includes('@') ? name : `${name}@${CURRENT[name as AdapterName]}`
  ) as FrameworkMajor
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
 * Builds and starts one framework's app with the contract routes and the given options, over
 * plain HTTP, or over HTTPS with `serve.tls`.
 */
export async function startApp(
  name: AdapterName | FrameworkMajor,
  options: Record<string, unknown>,
  serve: ServeOptions = {},
): Promise<RunningApp> {
  let server: Server
  let stop: () => Promise<void>
  const { adapter, major } = frameworkOf(name)
  if (adapter === 'hono') return startHono(options, serve)
  if (adapter === 'nestjs-express' || adapter === 'nestjs-fastify') {
    return startNest(adapter === 'nestjs-express' ? 'express' : 'fastify', options, serve)
  }
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
    for (const [path, reqs, stepUp] of ROUTES(
      owner((req: express.Request) => req.params.id as string),
    )) {
      const guards = reqs ? [expressGuard(...(reqs as never[]))] : []
      if (stepUp) guards.unshift(expressStepUp(stepUp))
      app.get(path, ...guards, (req, res) => {
        res.json({ auth: req.auth ?? null })
      })
    }
    server = appServer(app, serve)
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
    for (const [path, reqs, stepUp] of ROUTES(
      owner((ctx: { params: { id: string } }) => ctx.params.id),
    )) {
      const guards = reqs ? [koaGuard(...(reqs as never[]))] : []
      if (stepUp) guards.unshift(koaStepUp(stepUp))
      router.get(path, ...guards, (ctx) => {
        ctx.body = { auth: ctx.state.auth ?? null }
      })
    }
    app.use(router.routes())
    server = appServer(app.callback(), serve)
    await listen(server)
    stop = () => new Promise((r) => server.close(() => r()))
  } else {
    const app = (FRAMEWORKS[major] as typeof Fastify)({
      serverFactory: (handler) => appServer(handler, serve),
    })
    await app.register(authPlugin, options as never)
    app.get('/public', { config: { auth: false } }, async () => ({ public: true }))
    app.options('/me', async (_req, reply) => {
      await reply.code(PREFLIGHT_ANSWER.status).headers(PREFLIGHT_ANSWER.headers).send()
    })
    app.get('/catalog', { config: { auth: 'optional' } }, async (req) => ({
      auth: req.auth ?? null,
    }))
    for (const [path, reqs, stepUp] of ROUTES(
      owner((req: { params: { id: string } }) => req.params.id),
    )) {
      const preHandler = reqs ? [app.requirePermission(...(reqs as never[]))] : []
      if (stepUp) preHandler.unshift(app.requireAuthentication(stepUp))
      app.get(path, { preHandler }, async (req) => ({ auth: req.auth ?? null }))
    }
    await app.listen({ port: 0, host: '127.0.0.1' })
    server = app.server
    stop = () => app.close()
  }
  const port = (server.address() as AddressInfo).port
  return {
    request: (path, headers = [], method = 'GET') => send(port, path, headers, method),
    port,
    close: stop,
  }
}

/**
 * For a `describe` block: one app of `name` per option set (over `baseOptions()`), started before
 * its tests and closed after them, by variant name.
 */
export function appsPerVariant(
  name: AdapterName | FrameworkMajor,
  variants: Readonly<Record<string, object>>,
): ReadonlyMap<string, RunningApp> {
  const apps = new Map<string, RunningApp>()
  beforeAll(async () => {
    for (const [variant, extra] of Object.entries(variants)) {
      apps.set(variant, await startApp(name, { ...baseOptions(), ...extra }))
    }
  })
  afterAll(async () => {
    for (const app of apps.values()) await app.close()
  })
  return apps
}
