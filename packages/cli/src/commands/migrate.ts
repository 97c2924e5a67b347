/** `authframework migrate`: applies the schema (users, roles, permissions, tokens, sessions, audit_log). */
import { parseArgs } from 'node:util'
import { migrate as applyMigrations } from '@authframework/core'
import pg from 'pg'
import { type Command, CommandError, HELP, parse, UsageError } from '../io.js'

/** host:port/database of a URL, never its user or password. */
function where(url: URL): string {
  return `${url.hostname || 'localhost'}:${url.port || '5432'}${url.pathname}`
}

export const migrate: Command = {
  name: 'migrate',
  summary: 'apply the database schema (idempotent)',
  help: `Usage: authframework migrate --database-url <url>

Applies the SQL migrations shipped with @authframework/core that the database has not seen yet,
each in a transaction, under an advisory lock (safe to run from several deploys at once).
Tables go to the first schema of the search_path (add ?options=-c%20search_path%3Dauth to pick one).

  --database-url <url>   postgres://user@host:5432/db (default: $DATABASE_URL)`,
  async run(args, io) {
    const { values } = parse(
      () =>
        parseArgs({
          args,
          options: { ...HELP, 'database-url': { type: 'string' } },
          allowPositionals: true,
          strict: true,
        }),
      0,
    )
    if (values.help) {
      io.out(this.help)
      return 0
    }
    const raw = values['database-url'] ?? io.env.DATABASE_URL
    if (raw === undefined || raw === '') {
      throw new UsageError('--database-url <url> is required (or set DATABASE_URL)')
    }
    let url: URL
    try {
      url = new URL(raw)
    } catch {
      throw new UsageError('--database-url: not a URL (postgres://user@host:5432/db)')
    }
    if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
      throw new UsageError('--database-url: expected a postgres:// URL')
    }
    const pool = new pg.Pool({ connectionString: raw, max: 1, connectionTimeoutMillis: 10_000 })
    pool.on('error', () => {})
    try {
      const { applied, skipped } = await applyMigrations(pool)
      io.out(
        applied.length === 0
          ? `${where(url)}: up to date (${skipped.length} migration${skipped.length === 1 ? '' : 's'} already applied)`
          : `${where(url)}: applied ${applied.join(', ')}`,
      )
      return 0
    } catch (error) {
      const cause = (error as { cause?: { message?: string } }).cause
      const code = (error as { code?: string }).code
      const detail =
        code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'ETIMEDOUT'
          ? `cannot connect (${code})`
          : `${(error as Error).message}${cause?.message ? ` ${cause.message}` : ''}`
      throw new CommandError(`${where(url)}: ${detail}`, { cause: error })
    } finally {
      await pool.end()
    }
  },
}
