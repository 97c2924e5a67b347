/**
 * Which Redis the tests run against (the machine's single Redis, or the local Redis Cluster of the
 * vitest project `cluster`), a client for either, and what tests need to look at either the same
 * way: the number of slots a read spans, keys in any slot. Re-exported by `services.ts`.
 */
import { Cluster, Redis, type RedisOptions } from 'ioredis'

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'

/**
 * Which Redis the Redis integration tests run against: `cluster` in the vitest project of that
 * name (`AF_REDIS_TARGET=cluster`), which starts a local cluster once per run
 * (`cluster-global-setup.ts`) and passes it on in `REDIS_CLUSTER_URL`; else the single Redis.
 */
export const REDIS_TARGET: 'redis' | 'cluster' =
  process.env.AF_REDIS_TARGET === 'cluster' ? 'cluster' : 'redis'

/**
 * The Redis of this run: `REDIS_URL`, or the cluster's `redis-cluster://host:port,...`. Tests that
 * put a TCP proxy in front of Redis use `REDIS_URL` (a proxy cannot stand in front of a Cluster,
 * whose clients are redirected to each node's own address).
 */
export function redisTargetUrl(): string {
  if (REDIS_TARGET === 'redis') return REDIS_URL
  const url = process.env.REDIS_CLUSTER_URL
  if (url === undefined) {
    throw new Error(
      'AF_REDIS_TARGET=cluster, but no cluster was started (REDIS_CLUSTER_URL): run through the vitest config.',
    )
  }
  return url
}

const CLUSTER_SCHEME = 'redis-cluster://'

/**
 * An ioredis client for `url`, or an ioredis Cluster for `redis-cluster://host:port,...`. Typed as
 * `Redis` either way: the commands the tests send exist on both, and the core takes both.
 */
export function createRedisClient(url: string, options: RedisOptions = {}): Redis {
  if (!url.startsWith(CLUSTER_SCHEME)) return new Redis(url, options)
  const startupNodes = url
    .slice(CLUSTER_SCHEME.length)
    .split(',')
    .map((address) => {
      const [host, port] = address.split(':')
      return { host: host!, port: Number(port) }
    })
  const { enableOfflineQueue, lazyConnect, ...redisOptions } = options
  const cluster = new Cluster(startupNodes, {
    redisOptions,
    ...(enableOfflineQueue === undefined ? {} : { enableOfflineQueue }),
    ...(lazyConnect === undefined ? {} : { lazyConnect }),
    // reconnect soon when every node was lost; learn a failover soon
    clusterRetryStrategy: () => 100,
    slotsRefreshTimeout: 1000,
    retryDelayOnFailover: 50,
    retryDelayOnClusterDown: 50,
  })
  return cluster as unknown as Redis
}

/** Whether `client` is an ioredis Cluster (see {@link createRedisClient}). */
export function isClusterClient(client: Redis): boolean {
  return (client as unknown as { isCluster?: boolean }).isCluster === true
}

/**
 * How many `MGET`s the core sends to read `keys` at once: one on a single Redis; one per hash slot
 * on a Cluster (the slots asked of the Cluster itself, `CLUSTER KEYSLOT`).
 */
export async function mgetCount(client: Redis, keys: readonly string[]): Promise<number> {
  if (!isClusterClient(client)) return 1
  const slots = await Promise.all(keys.map((key) => client.cluster('KEYSLOT', key)))
  return new Set(slots).size
}

/** How many of `keys` exist: one `EXISTS` per key, so that keys in any slot may be asked. */
export async function countExisting(client: Redis, keys: readonly string[]): Promise<number> {
  const found = await Promise.all(keys.map((key) => client.exists(key)))
  return found.reduce((sum, n) => sum + n, 0)
}

/** Every key under `prefix` (no glob character in it), from every master of a Cluster. */
export async function scanKeys(client: Redis, prefix: string): Promise<string[]> {
  const cluster = client as unknown as Partial<Cluster>
  const nodes =
    cluster.isCluster === true && cluster.nodes !== undefined ? cluster.nodes('master') : [client]
  const keys: string[] = []
  for (const node of nodes) {
    let cursor = '0'
    do {
      const [next, found] = await node.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
      keys.push(...found)
      cursor = next
    } while (cursor !== '0')
  }
  return keys
}
