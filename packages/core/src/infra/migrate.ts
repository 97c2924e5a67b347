/** Applies the SQL migrations shipped in `packages/core/migrations`, once, under an advisory lock. */
import { createHash } from 'node:crypto'
import { readdir, readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import type { Pool } from '../peer-types.js'
import { invalid } from '../validate.js'
import { holdConnection } from './postgres-pool.js'

/** The pool-like object `migrate` needs: `pg.Pool` or a pg-pool `Pool`. */
export type MigrationPool = Pick<Pool, 'connect'>

export interface MigrateOptions {
  /** Directory of `NNNN_name.sql` files. Default: the migrations shipped with this package. */
  readonly directory?: string | URL
}

export interface MigrateResult {
  /** Versions (file names without `.sql`) applied by this call, in order. */
  readonly applied: readonly string[]
  /** Versions that were already recorded in `schema_migrations`. */
  readonly skipped: readonly string[]
}

/** `src/infra/` and `dist/infra/` both sit two levels below the package. */
export const MIGRATIONS_DIRECTORY = fileURLToPath(new URL('../../migrations/', import.meta.url))

/** The key of the session-level advisory lock held while migrating (the same in every schema). */
export const MIGRATION_LOCK_KEY = 'authframework:migrations'

interface Migration {
  readonly version: string
  readonly sql: string
  readonly checksum: string
}

async function readMigrations(directory: string | URL): Promise<Migration[]> {
  const dir = directory instanceof URL ? fileURLToPath(directory) : directory
  const names = (await readdir(dir)).filter((name) => name.endsWith('.sql')).sort()
  return Promise.all(
    names.map(async (name) => {
      const sql = await readFile(`${dir.replace(/\/?$/, '/')}${name}`, 'utf8')
      return {
        version: name.slice(0, -'.sql'.length),
        sql,
        checksum: createHash('sha256').update(sql).digest('hex'),
      }
    }),
  )
}

/**
 * Brings the schema up to date: applies each migration file not yet recorded in the
 * `schema_migrations` table, in file-name order, each in its own transaction. Idempotent, and safe
 * to run from several instances at once: they queue on a PostgreSQL advisory lock. Tables are
 * created unqualified, in the first schema of the connection's `search_path`. A recorded migration
 * whose file has changed since is an error (ship a new migration instead of editing one).
 *
 * @example
 * import pg from 'pg'
 * const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL })
 * const { applied } = await migrate(pool) // ['0001_initial'] the first time, [] afterwards
 */
export async function migrate(
  pool: MigrationPool,
  options: MigrateOptions = {},
): Promise<MigrateResult> {
  if (typeof pool?.connect !== 'function') {
    invalid('migrate', 'pool', 'a pg Pool', 'new pg.Pool(config)')
  }
  const migrations = await readMigrations(options.directory ?? MIGRATIONS_DIRECTORY)
  const client = holdConnection(await pool.connect())
  let locked = false
  let broken: unknown
  try {
    // the query runner may have given this connection a short statement_timeout: a migration
    // (and its wait for the lock) runs under the connection's own default instead
    await client.query('RESET statement_timeout')
    await client.query('SELECT pg_advisory_lock(hashtextextended($1, 0))', [MIGRATION_LOCK_KEY])
    locked = true
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version    text PRIMARY KEY,
      checksum   text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`)
    const { rows } = await client.query<{ version: string; checksum: string }>(
      'SELECT version, checksum FROM schema_migrations',
    )
    const recorded = new Map(rows.map((row) => [row.version, row.checksum]))
    const applied: string[] = []
    const skipped: string[] = []
    for (const migration of migrations) {
      const checksum = recorded.get(migration.version)
      if (checksum !== undefined) {
        if (checksum !== migration.checksum) {
          throw new Error(
            `migrate: migration ${migration.version} was changed after it was applied (checksum mismatch).`,
          )
        }
        skipped.push(migration.version)
        continue
      }
      await client.query('BEGIN')
      try {
        await client.query(migration.sql)
        await client.query('INSERT INTO schema_migrations (version, checksum) VALUES ($1, $2)', [
          migration.version,
          migration.checksum,
        ])
        await client.query('COMMIT')
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {})
        throw new Error(`migrate: migration ${migration.version} failed.`, { cause: error })
      }
      applied.push(migration.version)
    }
    return { applied, skipped }
  } catch (error) {
    broken = error
    throw error
  } finally {
    if (locked) {
      await client
        .query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [MIGRATION_LOCK_KEY])
        .catch((error: unknown) => {
          broken ??= error
        })
    }
    // Discarded, not reused: its settings were reset (and after a failure its state is unknown).
    client.release(broken instanceof Error ? broken : true)
  }
}
