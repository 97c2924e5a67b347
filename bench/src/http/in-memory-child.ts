/**
 * One HTTP app timed without a network: the same app module the HTTP part listens with, but its
 * `http.Server` is handed in-memory connections (`connection` event with a `Duplex`), exactly as
 * sockets would be after `accept`. Requests are written to them as raw HTTP/1.1, one after the
 * other on each keep-alive connection, so Node's parser, `IncomingMessage`/`ServerResponse` and
 * the framework run as in the real server; only the kernel and the load generator are left out.
 * After a warm-up, `batches` batches of `batchSize` requests, each with its process CPU time
 * (user + system, all threads, so V8's GC helpers count). Takes its job over IPC (`runInChild`).
 */
import { Server } from 'node:http'
import { cpuUsage } from 'node:process'
import { Duplex } from 'node:stream'
import { serveOneJob } from '../child.js'
import { loadBuilder } from './apps/common.js'
import type { AppConfig } from './variants.js'

/** The server an app module listens with: captured at `listen`, then driven without its socket. */
function captureServers(): Server[] {
  const servers: Server[] = []
  const listen = Server.prototype.listen
  Server.prototype.listen = function (this: Server, ...args: unknown[]) {
    servers.push(this)
    return (listen as (...a: unknown[]) => Server).apply(this, args)
  } as typeof Server.prototype.listen
  return servers
}

/** Whether `received` holds one whole response: sized by `Content-Length`, or chunked. */
function complete(received: Buffer): { status: number } | undefined {
  const end = received.indexOf('\r\n\r\n')
  if (end === -1) return undefined
  const head = received.subarray(0, end).toString('latin1')
  const status = Number(head.slice(9, 12))
  const length = /\r\ncontent-length: *(\d+)/i.exec(head)
  if (length) return received.length >= end + 4 + Number(length[1]) ? { status } : undefined
  if (/\r\ntransfer-encoding: *chunked/i.test(head))
    return received.subarray(-5).toString('latin1') === '0\r\n\r\n' ? { status } : undefined
  throw new Error(`a response of unknown length: ${head.split('\r\n')[0]}`)
}

/**
 * One keep-alive connection into `server`; `send(request)` resolves with the status code once
 * the whole response has come back.
 */
function connect(server: Server): (request: Buffer) => Promise<number> {
  let received: Buffer = Buffer.alloc(0)
  let waiting: { resolve(status: number): void; reject(error: unknown): void } | undefined
  const socket = new Duplex({
    read() {},
    write(chunk: Buffer, _encoding, callback) {
      received = received.length === 0 ? chunk : Buffer.concat([received, chunk])
      let done: { status: number } | undefined
      try {
        done = complete(received)
      } catch (error) {
        waiting?.reject(error)
      }
      if (done) {
        received = Buffer.alloc(0)
        const answer = waiting
        waiting = undefined
        answer?.resolve(done.status)
      }
      callback()
    },
  })
  server.emit('connection', socket)
  return (request) =>
    new Promise((resolve, reject) => {
      waiting = { resolve, reject }
      socket.push(request)
    })
}

/**
 * Builds the app of `cfg` and opens `connections` in-memory connections into it. `run(from,
 * count)` sends requests `from .. from + count - 1`, request `i` with `tokens[i % tokens.length]`,
 * each connection one after the other, and resolves with how many were answered 200.
 */
async function openInMemory(cfg: AppConfig, tokens: readonly string[], connections: number) {
  const servers = captureServers()
  await (await loadBuilder(cfg.framework))(cfg)
  const server = servers[0]
  if (server === undefined) throw new Error('the app did not listen')
  const sends = Array.from({ length: connections }, () => connect(server))
  const requests = tokens.map((token) =>
    Buffer.from(
      `GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\n\r\n`,
      'latin1',
    ),
  )
  return {
    async run(from: number, count: number) {
      let ok = 0
      let next = from
      const end = from + count
      await Promise.all(
        sends.map(async (send) => {
          while (next < end) {
            const i = next++
            if ((await send(requests[i % requests.length] as Buffer)) === 200) ok++
          }
        }),
      )
      return ok
    },
  }
}

export interface InMemoryJob {
  readonly app: AppConfig
  /** Request `i` carries `tokens[i % tokens.length]`. */
  readonly tokens: readonly string[]
  readonly connections: number
  readonly warmup: number
  readonly batches: number
  readonly batchSize: number
}

export interface InMemoryTiming {
  /** Per batch: process CPU µs per request. */
  readonly cpuUs: readonly number[]
  /** Requests answered 200, warm-up included. */
  readonly answered: number
}

serveOneJob(async (job: InMemoryJob): Promise<{ timing: InMemoryTiming }> => {
  const app = await openInMemory(job.app, job.tokens, job.connections)
  let answered = await app.run(0, job.warmup)
  const cpuUs: number[] = []
  for (let b = 0, from = job.warmup; b < job.batches; b++, from += job.batchSize) {
    const cpu0 = cpuUsage()
    answered += await app.run(from, job.batchSize)
    const cpu = cpuUsage(cpu0)
    cpuUs.push((cpu.user + cpu.system) / job.batchSize)
  }
  return { timing: { cpuUs, answered } }
})
