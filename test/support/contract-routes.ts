/**
 * What every contract app shares, whatever its framework: the routes and their requirements, the
 * preflight answer, the header limit, and the client that sends raw header pairs.
 */
import { once } from 'node:events'
import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type RequestListener,
  type Server,
} from 'node:http'
import { createServer as createHttpsServer, type ServerOptions as HttpsOptions } from 'node:https'
import type { AddressInfo } from 'node:net'
import {
  allOf,
  anyOf,
  not,
  type Predicate,
  requireDpop,
  type StepUpOptions,
} from '@authframework/core'
import { expect } from 'vitest'

/** Node's default header limit (16 KiB) is raised so that oversized tokens reach the middleware. */
export const MAX_HEADER = 65_536

/**
 * The routes of the contract, the same in every framework. `sub` ownership is a custom predicate
 * that reads the route parameter through a framework-neutral accessor.
 */
export const owner =
  (param: (request: never) => string | undefined): Predicate<never> =>
  async (auth, request) =>
    auth.sub === param(request)

/** A route: its permission requirements, and its step-up requirement (checked first). */
export type Route = readonly [
  path: string,
  requirements: unknown[] | undefined,
  stepUp?: StepUpOptions,
]

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

export const ROUTES = (ownerOf: Predicate<never>): Route[] => [
  ['/me', undefined],
  ['/orders', ['orders:read']],
  ['/orders/write', ['orders:write']],
  ['/admin', [anyOf('admin', allOf('orders:write', 'invoices:write'))]],
  ['/active', ['orders:read', not('suspended')]],
  ['/users/:id', [ownerOf]],
  ['/step-up/acr', undefined, { acrValues: ['urn:example:mfa', 'hwk'] }],
  ['/step-up/recent', undefined, { maxAgeSeconds: 300 }],
  ['/step-up/payments', ['payments:write'], { acrValues: ['mfa'], maxAgeSeconds: 300 }],
  ['/dpop-only', [requireDpop()]],
]

/** The RFC 9457 body of an error answer: the five members, and a code's extension members. */
export function problemBody(code: string, status: number, members?: Record<string, unknown>) {
  return {
    type: `urn:authframework:error:${code}`,
    title: expect.any(String),
    status,
    detail: expect.any(String),
    code,
    ...members,
  }
}

export interface Response {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: unknown
  text: string
}

export interface RunningApp {
  /** Over plain HTTP; an app served over TLS is reached through `port`. */
  request(path: string, headers?: [string, string][], method?: string): Promise<Response>
  readonly port: number
  close(): Promise<void>
}

/** How `startApp` serves an app: plain HTTP, or HTTPS with these TLS options. */
export interface ServeOptions {
  readonly tls?: Pick<HttpsOptions, 'key' | 'cert' | 'requestCert' | 'rejectUnauthorized'>
}

/** The server of a contract app: HTTP, or HTTPS with `serve.tls`; Node's header limit raised. */
export function appServer(handler: RequestListener, serve: ServeOptions = {}): Server {
  return serve.tls === undefined
    ? createServer({ maxHeaderSize: MAX_HEADER }, handler)
    : createHttpsServer({ ...serve.tls, maxHeaderSize: MAX_HEADER }, handler)
}

export async function listen(server: Server): Promise<number> {
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return (server.address() as AddressInfo).port
}

/** A response read to its end; its body parsed when it is JSON. */
export async function readResponse(res: IncomingMessage): Promise<Response> {
  const chunks: Buffer[] = []
  for await (const chunk of res) chunks.push(chunk as Buffer)
  const text = Buffer.concat(chunks).toString('utf8')
  let body: unknown = text
  try {
    body = JSON.parse(text)
  } catch {}
  return { status: res.statusCode ?? 0, headers: res.headers, body, text }
}

/** Sends a request with raw header pairs, so that a header can be repeated. */
export function send(
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
        readResponse(res).then(resolve, reject)
      },
    )
    req.on('error', reject)
    req.end()
  })
}
