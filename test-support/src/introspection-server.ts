/**
 * A small RFC 7662 introspection endpoint on 127.0.0.1 for tests: it records every call (how the
 * client authenticated, the form it sent, on which connection) and answers what the test says.
 */
import { once } from 'node:events'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'

export interface IntrospectionCall {
  readonly authorization: string | undefined
  readonly contentType: string | undefined
  readonly form: URLSearchParams
  readonly token: string | null
  /** 1-based number of the TCP connection the call came on. */
  readonly connection: number
}

/** What the endpoint does with one call: answer JSON, answer raw, or write the response itself. */
export type Behaviour =
  | { readonly json: unknown; readonly status?: number; readonly delayMs?: number }
  | {
      readonly raw: string | Buffer
      readonly status?: number
      readonly headers?: Record<string, string>
    }
  | { readonly handle: (req: IncomingMessage, res: ServerResponse) => void }

export interface IntrospectionServer {
  readonly url: string
  readonly port: number
  readonly calls: IntrospectionCall[]
  /** TCP connections accepted so far. */
  readonly connections: number
  /** Replaces the answer function. */
  answer(fn: (call: IntrospectionCall) => Behaviour): void
  close(): Promise<void>
}

/** An active answer for `sub`, expiring `ttlSeconds` after `nowSeconds`. */
export function activeAnswer(
  nowSeconds: number,
  ttlSeconds: number,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    active: true,
    sub: 'svc-1',
    iss: 'https://as.example',
    aud: 'orders-api',
    scope: 'orders:read',
    exp: nowSeconds + ttlSeconds,
    iat: nowSeconds,
    ...extra,
  }
}

/**
 * Starts the endpoint at `/introspect` on a free port.
 *
 * @example
 * const server = await startIntrospectionServer(() => ({ json: { active: false } }))
 */
export async function startIntrospectionServer(
  initial: (call: IntrospectionCall) => Behaviour,
): Promise<IntrospectionServer> {
  let answer = initial
  const calls: IntrospectionCall[] = []
  let connections = 0
  const sockets = new Set<Socket>()
  const connectionOf = new WeakMap<Socket, number>()

  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'))
      const call: IntrospectionCall = {
        authorization: req.headers.authorization,
        contentType: req.headers['content-type'],
        form,
        token: form.get('token'),
        connection: connectionOf.get(req.socket) ?? 0,
      }
      calls.push(call)
      const behaviour = answer(call)
      if ('handle' in behaviour) {
        behaviour.handle(req, res)
        return
      }
      const send = () => {
        if (res.destroyed) return
        if ('raw' in behaviour) {
          res.writeHead(behaviour.status ?? 200, behaviour.headers ?? {})
          res.end(behaviour.raw)
        } else {
          const body = JSON.stringify(behaviour.json)
          res.writeHead(behaviour.status ?? 200, { 'content-type': 'application/json' })
          res.end(body)
        }
      }
      const delay = 'delayMs' in behaviour ? behaviour.delayMs : undefined
      if (delay === undefined) send()
      else setTimeout(send, delay)
    })
  })
  server.on('connection', (socket: Socket) => {
    connections++
    connectionOf.set(socket, connections)
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/introspect`,
    port,
    calls,
    get connections() {
      return connections
    },
    answer(fn) {
      answer = fn
    },
    async close() {
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
