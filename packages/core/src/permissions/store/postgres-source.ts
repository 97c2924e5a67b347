/** The PostgreSQL permission source: one round trip per user, or per batch of users. */

import { AuthUnavailableError } from '../../errors.js'
import {
  POSTGRES_RUNNER_DEFAULTS,
  type PostgresQueryable,
  postgresRunner,
  queryablePool,
} from '../../infra/postgres.js'
import {
  createPostgresPool,
  endPostgresPool,
  type PostgresPoolOptions,
} from '../../infra/postgres-pool.js'
import type { Pool, QueryResult } from '../../peer-types.js'
import type { PermissionRecord } from '../../types.js'
import { invalid, plainObject, positiveNumber } from '../../validate.js'
import { isStorableId, toPermissionRecord } from './record.js'
import type { BatchPermissionSource } from './source.js'

export type PostgresSourceOptions = {
  /** Most time a lookup may take, acquire and query included. Default 2000. */
  readonly timeoutMs?: number
} & (
  | {
      /** A pool you own: the source never ends it. */
      readonly pool: PostgresQueryable
      readonly connectionString?: never
      readonly poolOptions?: never
    }
  | {
      /** The source creates the pool ({@link createPostgresPool}) and ends it on `close()`. */
      readonly connectionString: string
      /** Overrides of {@link POSTGRES_POOL_DEFAULTS} for the pool the source creates. */
      readonly poolOptions?: PostgresPoolOptions
      readonly pool?: never
    }
)

/** Default options of {@link postgresSource}. */
export const POSTGRES_SOURCE_DEFAULTS = Object.freeze({
  timeoutMs: POSTGRES_RUNNER_DEFAULTS.timeoutMs,
})

/** The names of the prepared statements (prepared once per connection by `pg`). */
export const PERMISSION_STATEMENTS = Object.freeze({
  one: 'authframework_permissions_v1',
  many: 'authframework_permissions_many_v1',
})

const SELECT = `SELECT u.id,
  coalesce(array_agg(DISTINCT p.name) FILTER (WHERE p.name IS NOT NULL), '{}') AS permissions,
  coalesce(array_agg(DISTINCT r.name) FILTER (WHERE r.name IS NOT NULL), '{}') AS roles
FROM users u
LEFT JOIN user_roles ur ON ur.user_id = u.id
LEFT JOIN roles r ON r.id = ur.role_id
LEFT JOIN role_permissions rp ON rp.role_id = r.id
LEFT JOIN permissions p ON p.id = rp.permission_id`

/** The SQL of one user's permissions and roles, active users only; `$1` is the user id. */
export const PERMISSIONS_QUERY = `${SELECT}
WHERE u.id = $1 AND u.active
GROUP BY u.id`

/** The batched variant; `$1` is a `text[]` of user ids. */
export const PERMISSIONS_MANY_QUERY = `${SELECT}
WHERE u.id = ANY($1::text[]) AND u.active
GROUP BY u.id`

interface Row {
  id: string
  permissions: string[]
  roles: string[]
}

/** The PostgreSQL source: a {@link BatchPermissionSource} that can be closed. */
export interface PostgresSource extends BatchPermissionSource {
  /** `postgres`: how metrics name its latency. */
  readonly name: 'postgres'
  /** Ends the pool if the source created it; a pool you passed in is left alone. */
  close(): Promise<void>
}

const WHERE = 'postgresSource'

/**
 * Reads permissions from the schema created by {@link migrate}: users → user_roles → roles →
 * role_permissions → permissions, one named prepared statement per call, `WHERE u.id = ANY($1)`
 * for a batch. Unknown and inactive users resolve `null`. Any failure (connection refused, pool
 * exhausted, statement timeout, `timeoutMs` elapsed) rejects with {@link AuthUnavailableError},
 * the cause attached.
 *
 * @example
 * const source = postgresSource({ pool })                    // your pg Pool
 * const owned = postgresSource({ connectionString: process.env.DATABASE_URL!, poolOptions: { max: 20 } })
 * await source.lookup('user-42') // { permissions: ['orders:read'], roles: ['clerk'] } | null
 */
export function postgresSource(options: PostgresSourceOptions): PostgresSource {
  plainObject(options, 'options', '{ pool }', WHERE)
  const { timeoutMs: defaultMs } = POSTGRES_SOURCE_DEFAULTS
  const timeoutMs = positiveNumber(options.timeoutMs ?? defaultMs, 'timeoutMs', defaultMs, WHERE)
  let pool: PostgresQueryable
  let owned: Pool | undefined
  if (options.pool !== undefined) {
    pool = queryablePool(options.pool, WHERE)
    if (options.connectionString !== undefined) {
      invalid(WHERE, 'pool or connectionString', 'given, not both', '{ pool }')
    }
  } else if (typeof options.connectionString === 'string' && options.connectionString !== '') {
    owned = createPostgresPool({
      ...options.poolOptions,
      connectionString: options.connectionString,
    })
    pool = owned
  } else {
    invalid(
      WHERE,
      'pool or connectionString',
      'given',
      "{ pool } or { connectionString: 'postgres://user@host/db' }",
    )
  }

  const runner = postgresRunner(pool)

  async function run(name: string, text: string, values: unknown[]): Promise<Row[]> {
    try {
      const result: QueryResult<Row> = await runner.query<Row>(
        { name, text, values },
        { timeoutMs },
      )
      return result.rows
    } catch (error) {
      // The message names no host, user or password; the driver's error is kept as `cause`.
      throw new AuthUnavailableError('The permission database is unavailable.', { cause: error })
    }
  }

  function toRecord(row: Row): PermissionRecord {
    const record = toPermissionRecord({ permissions: row.permissions, roles: row.roles })
    if (record === undefined) {
      throw new AuthUnavailableError('The permission database returned an unexpected row.')
    }
    return record
  }

  return {
    name: 'postgres',
    async lookup(subject) {
      if (!isStorableId(subject)) return null
      const rows = await run(PERMISSION_STATEMENTS.one, PERMISSIONS_QUERY, [subject])
      const row = rows[0]
      return row === undefined ? null : toRecord(row)
    },
    async lookupMany(subjects) {
      const result = new Map<string, PermissionRecord | null>()
      const ids = [...new Set(subjects)].filter(isStorableId)
      for (const id of subjects) result.set(id, null)
      if (ids.length === 0) return result
      const rows =
        ids.length === 1
          ? await run(PERMISSION_STATEMENTS.one, PERMISSIONS_QUERY, ids)
          : await run(PERMISSION_STATEMENTS.many, PERMISSIONS_MANY_QUERY, [ids])
      for (const row of rows) result.set(row.id, toRecord(row))
      return result
    },
    async close() {
      if (owned === undefined) return
      const ending = owned
      owned = undefined
      await endPostgresPool(ending)
    },
  }
}
