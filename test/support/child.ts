/**
 * What every forked server process of the multi-process tests does the same way: read its
 * configuration from `AF_INSTANCE`, connect to the shared PostgreSQL and Redis with the options the
 * docs recommend, and listen on a free port it reports to the parent over IPC.
 */
import { createServer, type RequestListener, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createPostgresPool } from '@authframework/core'
import { createRedisClient } from '@authframework/test-support/services'
import type { InstanceConfig } from './instance.js'

/** The configuration the parent passed; throws when this file was not forked as a child. */
export function instanceConfig(file: string): InstanceConfig {
  const config = JSON.parse(process.env.AF_INSTANCE ?? 'null') as InstanceConfig | null
  if (config === null || typeof process.send !== 'function') {
    throw new Error(`${file} runs as a forked child with AF_INSTANCE set.`)
  }
  return config
}

/** A pool on the test schema and a Redis client (or Cluster) that fails fast while Redis is away. */
export function connectServices(config: InstanceConfig, poolMax: number) {
  const pool = createPostgresPool({
    connectionString: config.databaseUrl,
    max: poolMax,
    min: 0,
    options: `-c search_path=${config.schema}`,
  })
  const redis = createRedisClient(config.redisUrl, {
    enableOfflineQueue: false,
    commandTimeout: 200,
    maxRetriesPerRequest: 1,
    retryStrategy: () => 50,
  })
  redis.on('error', () => {})
  return { pool, redis }
}

/** Serves `app` on a free loopback port and sends `{ port }` to the parent. */
export function listen(app: RequestListener): Server {
  const server = createServer({ keepAliveTimeout: 10_000 }, app)
  server.listen(0, '127.0.0.1', () => {
    process.send!({ port: (server.address() as AddressInfo).port })
  })
  return server
}
