/**
 * A TCP proxy for fault tests: put it between a client and Redis or PostgreSQL, then
 * - `cut()`: reset every open connection and every new one (the service is "down"),
 * - `stall()`: keep connections open but forward nothing, holding the bytes (a congested or
 *   paused peer; timeouts fire, and what was held arrives late, in order, on `restore()`),
 * - `blackhole()`: keep connections open, accept new ones, and drop every byte both ways (a
 *   network partition without resets: only deadlines and heartbeats can notice it); on
 *   `restore()` a connection that lost bytes is reset, as TCP gives up on a stream it cannot
 *   deliver (it never resumes with a hole in it),
 * - `restore()`: forward again.
 */
import * as net from 'node:net'

export type ProxyMode = 'open' | 'cut' | 'stall' | 'blackhole'

export interface TcpProxy {
  readonly host: string
  readonly port: number
  readonly mode: ProxyMode
  /** Connections accepted so far. */
  readonly accepted: number
  /** Connections currently open. */
  readonly open: number
  cut(): void
  stall(): void
  blackhole(): void
  restore(): void
  close(): Promise<void>
}

interface Pair {
  readonly client: net.Socket
  readonly upstream: net.Socket
  readonly held: Array<readonly [net.Socket, Buffer]>
  /** Bytes were dropped: the stream cannot go on. */
  lost: boolean
}

/**
 * Starts a proxy on 127.0.0.1 (a free port) in front of `target`.
 *
 * @example
 * const proxy = await startTcpProxy({ host: '127.0.0.1', port: 6379 })
 * const redis = new Redis({ port: proxy.port })
 * proxy.cut() // ... assert the outage behaviour ... proxy.restore()
 */
export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  let mode: ProxyMode = 'open'
  let accepted = 0
  const pairs = new Set<Pair>()

  function destroy(pair: Pair): void {
    pairs.delete(pair)
    if (!pair.client.destroyed) pair.client.resetAndDestroy()
    pair.upstream.destroy()
  }

  function forward(pair: Pair, from: net.Socket, to: net.Socket): void {
    from.on('data', (chunk: Buffer) => {
      if (mode === 'stall') pair.held.push([to, chunk])
      else if (mode === 'blackhole') pair.lost = true
      else if (!to.destroyed) to.write(chunk)
    })
    from.on('error', () => destroy(pair))
    from.on('close', () => destroy(pair))
  }

  const server = net.createServer((client) => {
    accepted++
    client.on('error', () => {})
    if (mode === 'cut') {
      client.resetAndDestroy()
      return
    }
    const upstream = net.connect(target.port, target.host)
    upstream.on('error', () => {})
    const pair: Pair = { client, upstream, held: [], lost: false }
    pairs.add(pair)
    forward(pair, client, upstream)
    forward(pair, upstream, client)
  })

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const address = server.address() as net.AddressInfo

  return {
    host: '127.0.0.1',
    port: address.port,
    get mode() {
      return mode
    },
    get accepted() {
      return accepted
    },
    get open() {
      return pairs.size
    },
    cut() {
      mode = 'cut'
      for (const pair of [...pairs]) destroy(pair)
    },
    stall() {
      mode = 'stall'
    },
    blackhole() {
      mode = 'blackhole'
    },
    restore() {
      mode = 'open'
      for (const pair of [...pairs]) {
        if (pair.lost) destroy(pair)
        else for (const [to, chunk] of pair.held.splice(0)) if (!to.destroyed) to.write(chunk)
      }
    },
    async close() {
      mode = 'cut'
      for (const pair of [...pairs]) destroy(pair)
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
