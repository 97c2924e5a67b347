/**
 * The core's structural types of its optional peers accept the real thing: an ioredis client, Cluster
 * and pipeline, a pg pool, client and pool options (so that users pass them without a cast), while the
 * published declarations import neither package (peer-types.test.ts).
 */
import type {
  PgPool,
  PgPoolClient,
  PgPoolConfig,
  RedisBatch,
  RedisClient,
  RedisCluster,
} from '@authframework/core'
import type {
  ChainableCommander as IoChainable,
  Cluster as IoCluster,
  Redis as IoRedis,
} from 'ioredis'
import type pg from 'pg'
import { describe, expectTypeOf, it } from 'vitest'

describe('peer types', () => {
  it('an ioredis client and its pipelines fit', () => {
    expectTypeOf<IoRedis>().toExtend<RedisClient>()
    expectTypeOf<IoChainable>().toExtend<RedisBatch>()
  })

  it('an ioredis Cluster fits too, wherever a client is taken', () => {
    expectTypeOf<IoCluster>().toExtend<RedisCluster>()
    expectTypeOf<IoCluster>().toExtend<RedisClient>()
  })

  it('a pg pool, its clients and its options fit', () => {
    expectTypeOf<pg.Pool>().toExtend<PgPool>()
    expectTypeOf<pg.PoolClient>().toExtend<PgPoolClient>()
    expectTypeOf<PgPoolConfig>().toExtend<pg.PoolConfig>()
  })
})
