/** For the examples' tests: a demo whose users live in a fresh PostgreSQL schema of the machine. */
import { createTestSchema, type TestSchema } from '../../packages/core/test/support/services.js'
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
