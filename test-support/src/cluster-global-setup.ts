/**
 * vitest global set-up of the `cluster` project: one local Redis Cluster (3 masters, 3 replicas)
 * for the whole run, passed to the test processes (and the servers they fork) in
 * `REDIS_CLUSTER_URL`, stopped by PID at the end. A `REDIS_CLUSTER_URL` given from outside is
 * used as it is.
 */
import { startRedisCluster } from './redis-cluster.js'

export default async function setup(): Promise<() => Promise<void>> {
  if (process.env.REDIS_CLUSTER_URL !== undefined) return async () => {}
  const cluster = await startRedisCluster()
  process.env.REDIS_CLUSTER_URL = cluster.url
  return () => cluster.stop()
}
