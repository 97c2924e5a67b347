/** For the examples' tests: a demo whose users live in a fresh PostgreSQL schema of the machine. */
import {
  connectRedis,
  createTestSchema,
  DATABASE_URL,
  deleteKeys,
  REDIS_URL,
  runId,
  type TestSchema,
} from '@authframework/test-support/services'
import { createDemo, type Demo } from './demo.js'
import { type DemoUser, prepareDatabase } from './login.js'

export interface DatabaseDemo {
  readonly demo: Demo
  readonly schema: TestSchema
  /** Rows of `audit_log` by `event_type`. */
  auditCounts(): Promise<Record<string, number>>
  drop(): Promise<void>
}

/** Migrates a fresh schema, seeds `user` as the example does on an empty database, and builds the demo on it. */
export async function databaseDemo(user: DemoUser): Promise<DatabaseDemo> {
  const schema = await createTestSchema()
  const pool = schema.pool()
  const seeded = await prepareDatabase(pool, user)
  if (!seeded) throw new Error('expected an empty users table in a fresh schema')
  return {
    demo: createDemo({ pool, user, seeded }),
    schema,
    async auditCounts() {
      const { rows } = await pool.query<{ event_type: string; n: number }>(
        'SELECT event_type, count(*)::int AS n FROM audit_log GROUP BY event_type',
      )
      return Object.fromEntries(rows.map((row) => [row.event_type, row.n]))
    },
    drop: () => schema.drop(),
  }
}

export interface ServicesEnv {
  /** `DATABASE_URL` (on a fresh schema, through `search_path`), `REDIS_URL` and `DEMO_PASSWORD`. */
  readonly env: NodeJS.ProcessEnv
  /** A Redis key prefix of this run only. */
  readonly keyPrefix: string
  /** Drops the schema and deletes the keys under the prefix. */
  drop(): Promise<void>
}

/**
 * The environment an example starts with to use the machine's PostgreSQL and Redis, isolated: a
 * fresh schema (named in the URL's `options`, as a deployment could) and a unique key prefix.
 */
export async function servicesEnv(password: string): Promise<ServicesEnv> {
  const schema = await createTestSchema()
  const url = new URL(DATABASE_URL)
  url.searchParams.set('options', `-c search_path=${schema.name}`)
  const keyPrefix = `af_test_${runId()}:`
  return {
    env: { DATABASE_URL: url.toString(), REDIS_URL, DEMO_PASSWORD: password },
    keyPrefix,
    async drop() {
      const redis = await connectRedis()
      try {
        await deleteKeys(redis, keyPrefix)
      } finally {
        redis.disconnect()
      }
      await schema.drop()
    },
  }
}
