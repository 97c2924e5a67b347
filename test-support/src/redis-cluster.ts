/**
 * A real Redis Cluster on loopback ports for the tests: `redis-server --cluster-enabled yes`
 * processes (3 masters and 3 replicas by default), joined by `redis-cli --cluster create`, each
 * process started here and stopped by its own PID. No data is persisted; each node's files go to a
 * temporary directory removed by `stop()`.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { Redis } from 'ioredis'

const run = promisify(execFile)
const HOST = '127.0.0.1'

export interface ClusterNode {
  readonly host: string
  readonly port: number
  /** The `redis-server` process of this node. */
  readonly pid: number
}

export interface LocalCluster {
  readonly nodes: readonly ClusterNode[]
  /** `redis-cluster://127.0.0.1:<port>,...`: what `createRedisClient` takes. */
  readonly url: string
  /** The node serving `slot` as master now (asked of a live node). */
  masterOf(slot: number): Promise<ClusterNode>
  /** Kills one node's process (SIGKILL: a crash, nothing saved) and waits for it to exit. */
  kill(node: ClusterNode): Promise<void>
  /** Resolves once every live node reports `cluster_state:ok` and every slot has a live master. */
  healthy(timeoutMs?: number): Promise<void>
  /** Stops every process it started (by PID) and removes its files. */
  stop(): Promise<void>
}

export interface LocalClusterOptions {
  readonly masters?: number
  readonly replicasPerMaster?: number
  /** `cluster-node-timeout`: how long a master may be unreachable before its replica takes over. */
  readonly nodeTimeoutMs?: number
}

/** Whether a loopback port can be listened on now. */
function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(false))
    server.listen(port, HOST, () => server.close(() => resolve(true)))
  })
}

/**
 * Free loopback ports below the kernel's ephemeral range (32768 and up), so that no outgoing
 * connection of another process takes one between the check and `redis-server` binding it.
 */
async function freePorts(count: number): Promise<number[]> {
  const ports = new Set<number>()
  while (ports.size < count) {
    const port = 20_000 + Math.floor(Math.random() * 12_000)
    if (!ports.has(port) && (await isFree(port))) ports.add(port)
  }
  return [...ports]
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await check().catch(() => false)) return
    if (Date.now() > deadline) throw new Error(`Redis Cluster: ${what} within ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** One command to one node, on a short-lived connection. */
async function ask(port: number, ...args: string[]): Promise<string> {
  const client = new Redis(port, HOST, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: 500,
    commandTimeout: 1000,
    retryStrategy: () => null,
  })
  client.on('error', () => {})
  try {
    await client.connect()
    return String(await client.call(args[0]!, ...args.slice(1)))
  } finally {
    client.disconnect()
  }
}

function startNode(dir: string, port: number, busPort: number, nodeTimeoutMs: number) {
  return spawn(
    'redis-server',
    [
      '--port', String(port),
      '--bind', HOST,
      '--cluster-enabled', 'yes',
      '--cluster-port', String(busPort),
      '--cluster-config-file', join(dir, `nodes-${port}.conf`),
      '--cluster-node-timeout', String(nodeTimeoutMs),
      // the other shards keep answering while one fails over
      '--cluster-require-full-coverage', 'no',
      // replicas sync at once (not after 5 s), so that a master can fail over soon after the start
      '--repl-diskless-sync-delay', '0',
      '--save', '',
      '--appendonly', 'no',
      '--dir', dir,
      '--logfile', join(dir, `${port}.log`),
    ], // biome-ignore format: flag and value pairs
    { stdio: 'ignore' },
  )
}

/**
 * Starts a cluster on free loopback ports and resolves once it is healthy (every slot served, the
 * replicas attached).
 *
 * @example
 * const cluster = await startRedisCluster()
 * const client = createRedisClient(cluster.url)
 * await cluster.stop()
 */
export async function startRedisCluster(options: LocalClusterOptions = {}): Promise<LocalCluster> {
  // a port taken by another process between the check and the bind fails one attempt, not the run
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(options)
    } catch (error) {
      if (attempt === 3) throw error
    }
  }
}

async function startOnce(options: LocalClusterOptions): Promise<LocalCluster> {
  const masters = options.masters ?? 3
  const replicas = options.replicasPerMaster ?? 1
  const count = masters * (1 + replicas)
  const dir = mkdtempSync(join(tmpdir(), 'af-redis-cluster-'))
  const ports = await freePorts(count * 2)
  const processes = new Map<number, ChildProcess>()
  const nodes: ClusterNode[] = []
  // a process that exits without `stop()` (a crash, a killed worker) leaves no node behind
  const killAll = () => {
    for (const child of processes.values()) if (child.exitCode === null) child.kill('SIGKILL')
    rmSync(dir, { recursive: true, force: true })
  }
  process.once('exit', killAll)
  for (let i = 0; i < count; i++) {
    const port = ports[i]!
    const child = startNode(dir, port, ports[count + i]!, options.nodeTimeoutMs ?? 1000)
    processes.set(port, child)
    nodes.push({ host: HOST, port, pid: child.pid! })
  }

  async function kill(node: ClusterNode): Promise<void> {
    const child = processes.get(node.port)
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise((resolve) => child.once('exit', resolve))
    process.kill(node.pid, 'SIGKILL')
    await exited
  }
  const alive = () =>
    nodes.filter((node) => {
      const child = processes.get(node.port)!
      return child.exitCode === null && child.signalCode === null
    })

  const cluster: LocalCluster = {
    nodes,
    url: `redis-cluster://${nodes.map((node) => `${node.host}:${node.port}`).join(',')}`,
    async masterOf(slot) {
      for (const node of alive()) {
        const text = await ask(node.port, 'CLUSTER', 'NODES').catch(() => undefined)
        if (text === undefined) continue
        for (const line of text.split('\n')) {
          const [, address, flags, , , , , state, ...ranges] = line.split(' ')
          if (!flags?.includes('master') || flags.includes('fail') || state !== 'connected')
            continue
          const owns = ranges.some((range) => {
            const [from, to = from] = range.split('-').map(Number)
            return slot >= from! && slot <= to!
          })
          const port = Number(address?.split('@')[0]?.split(':')[1])
          const found = nodes.find((n) => n.port === port)
          if (owns && found !== undefined) return found
        }
      }
      throw new Error(`Redis Cluster: no live master serves slot ${slot}`)
    },
    kill,
    async healthy(timeoutMs = 20_000) {
      await waitFor(
        'every slot served',
        async () => {
          for (const node of alive()) {
            const info = await ask(node.port, 'CLUSTER', 'INFO')
            if (!info.includes('cluster_state:ok') || !info.includes('cluster_slots_ok:16384')) {
              return false
            }
          }
          return true
        },
        timeoutMs,
      )
    },
    async stop() {
      process.removeListener('exit', killAll)
      await Promise.all(nodes.map(kill))
      rmSync(dir, { recursive: true, force: true })
    },
  }

  try {
    await waitFor(
      'every node answering',
      async () =>
        (await Promise.all(nodes.map((n) => ask(n.port, 'PING')))).every((r) => r === 'PONG'),
      10_000,
    )
    await run('redis-cli', [
      '--cluster',
      'create',
      ...nodes.map((node) => `${node.host}:${node.port}`),
      '--cluster-replicas',
      String(replicas),
      '--cluster-yes',
    ])
    await cluster.healthy()
    // every replica in sync with its master: a failover has someone to promote
    await waitFor(
      'replicas in sync',
      async () => {
        const roles = await Promise.all(nodes.map((n) => ask(n.port, 'INFO', 'replication')))
        const synced = roles.filter((info) => info.includes('master_link_status:up'))
        return synced.length === masters * replicas
      },
      20_000,
    )
  } catch (error) {
    await cluster.stop()
    throw error
  }
  return cluster
}
