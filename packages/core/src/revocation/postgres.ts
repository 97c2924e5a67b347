/**
 * Revocations in PostgreSQL: the `tokens` table (migration 0002) is the system of record. Writes
 * are one upsert; the catch-up read pages through live revocations in (changed_at, token_hash)
 * order; the strict mode's fallback is a batch validation by primary key; the sweep deletes expired
 * rows in batches (see `sweep.ts`).
 */
import { AuthUnavailableError } from '../errors.js'
import {
  POSTGRES_RUNNER_DEFAULTS,
  type PostgresQueryable,
  postgresRunner,
  queryablePool,
} from '../infra/postgres.js'
import type { RevocationEntry } from '../types.js'
import { positiveNumber } from '../validate.js'
import { checkEntry, rowKey } from './keys.js'

/** One page of the catch-up read, and where the next page starts. */
export interface RevocationPage {
  readonly entries: readonly RevocationEntry[]
  /** Pass back as `after` for the next page; `undefined` when this was the last page. */
  readonly next: RevocationCursor | undefined
}

/** A position in (changed_at, token_hash) order; `changedAtUs` is microseconds since the epoch, as a decimal string. */
export interface RevocationCursor {
  readonly changedAtUs: string
  readonly key: string
}

/** Where a distributed revocation list keeps its revocations durably: {@link postgresRevocationSource}, or your own. */
export interface RevocationSource {
  /** Records (or strengthens) a revocation; rejects when it could not be stored. */
  insert(entry: RevocationEntry): Promise<void>
  /** The database clock, in microseconds since the epoch (a decimal string): the catch-up cursor. */
  now(): Promise<string>
  /** Live revocations changed after `after`, in order, at most `limit`. */
  page(after: RevocationCursor, limit: number): Promise<RevocationPage>
  /**
   * Batch validation: the live revocations among these row keys (`tokens.token_hash` values),
   * `WHERE token_hash = ANY($1) AND revoked AND expires_at > now()`.
   */
  findLive(keys: readonly string[]): Promise<readonly RevocationEntry[]>
}

/** The names of the prepared statements (prepared once per connection by `pg`). */
export const REVOCATION_STATEMENTS = Object.freeze({
  insert: 'authframework_revoke_v1',
  now: 'authframework_revocations_now_v1',
  page: 'authframework_revocations_page_v1',
  findLive: 'authframework_revocations_live_v1',
})

/** `$1` row key, `$2` user id, `$3` expires (s), `$4` kind, `$5` jti, `$6` revoked before (s). */
export const REVOKE_QUERY = `INSERT INTO tokens AS t
  (token_hash, user_id, expires_at, revoked, kind, jti, revoked_before)
VALUES ($1, $2, to_timestamp($3::float8), true, $4, $5, to_timestamp($6::float8))
ON CONFLICT (token_hash) DO UPDATE SET
  revoked = true,
  user_id = coalesce(t.user_id, excluded.user_id),
  expires_at = greatest(t.expires_at, excluded.expires_at),
  revoked_before = greatest(t.revoked_before, excluded.revoked_before)`

const COLUMNS = `token_hash, kind, jti, user_id,
  extract(epoch FROM expires_at)::float8 AS expires_at,
  extract(epoch FROM revoked_before)::float8 AS revoked_before`

/** One page of live revocations after the cursor `($1 µs, $2 key)`; `$3` is the page size. */
export const REVOCATIONS_PAGE_QUERY = `SELECT ${COLUMNS},
  (extract(epoch FROM changed_at) * 1000000)::bigint::text AS changed_us
FROM tokens
WHERE revoked AND expires_at > now()
  AND (changed_at, token_hash) > (timestamptz 'epoch' + $1::bigint * interval '1 microsecond', $2::text)
ORDER BY changed_at, token_hash
LIMIT $3`

/** Batch validation by primary key; `$1` is a `text[]` of row keys. */
export const REVOCATIONS_LIVE_QUERY = `SELECT ${COLUMNS}
FROM tokens
WHERE token_hash = ANY($1::text[]) AND revoked AND expires_at > now()`

interface Row {
  token_hash: string
  kind: string
  jti: string | null
  user_id: string | null
  expires_at: number
  revoked_before: number | null
  changed_us?: string
}

function toEntry(row: Row): RevocationEntry | undefined {
  if (row.kind === 'jti') {
    return checkEntry({ kind: 'jti', jti: row.jti, expiresAt: row.expires_at })
  }
  if (row.kind === 'subject') {
    return checkEntry({
      kind: 'subject',
      sub: row.user_id,
      before: row.revoked_before,
      expiresAt: row.expires_at,
    })
  }
  return checkEntry({
    kind: 'token',
    tokenHash: row.token_hash,
    expiresAt: row.expires_at,
    ...(row.user_id === null ? {} : { sub: row.user_id }),
  })
}

export interface PostgresRevocationSourceOptions {
  /** A `pg` pool you own (its connections must see the migrated schema); never ended here. */
  readonly pool: PostgresQueryable
  /** Most time one query may take, acquire included. Default 2000. */
  readonly timeoutMs?: number
}

const WHERE = 'postgresRevocationSource'

/**
 * The PostgreSQL {@link RevocationSource} over the schema created by `migrate(pool)`. Every
 * failure rejects with `AuthUnavailableError` (the driver's error as `cause`; no host, user or
 * password in the message).
 *
 * @example
 * const source = postgresRevocationSource({ pool })
 * await source.insert({ kind: 'jti', jti: 'abc', expiresAt: exp })
 */
export function postgresRevocationSource(
  options: PostgresRevocationSourceOptions,
): RevocationSource {
  const pool = queryablePool(options?.pool, WHERE)
  const { timeoutMs: defaultMs } = POSTGRES_RUNNER_DEFAULTS
  const timeoutMs = positiveNumber(options.timeoutMs ?? defaultMs, 'timeoutMs', defaultMs, WHERE)
  const runner = postgresRunner(pool)

  async function run<R extends object>(name: string, text: string, values: unknown[]) {
    try {
      const result = await runner.query<R>({ name, text, values }, { timeoutMs })
      return result.rows
    } catch (error) {
      throw new AuthUnavailableError('The revocation database is unavailable.', { cause: error })
    }
  }

  return {
    async insert(entry) {
      await run(REVOCATION_STATEMENTS.insert, REVOKE_QUERY, [
        rowKey(entry),
        entry.kind === 'jti' ? null : (entry.sub ?? null),
        entry.expiresAt,
        entry.kind,
        entry.kind === 'jti' ? entry.jti : null,
        entry.kind === 'subject' ? entry.before : null,
      ])
    },
    async now() {
      const rows = await run<{ now_us: string }>(
        REVOCATION_STATEMENTS.now,
        'SELECT (extract(epoch FROM now()) * 1000000)::bigint::text AS now_us',
        [],
      )
      return rows[0]!.now_us
    },
    async page(after, limit) {
      const rows = await run<Row>(REVOCATION_STATEMENTS.page, REVOCATIONS_PAGE_QUERY, [
        after.changedAtUs,
        after.key,
        limit,
      ])
      const entries: RevocationEntry[] = []
      for (const row of rows) {
        const entry = toEntry(row)
        if (entry !== undefined) entries.push(entry)
      }
      const last = rows[rows.length - 1]
      return {
        entries,
        next:
          rows.length < limit || last === undefined
            ? undefined
            : { changedAtUs: last.changed_us!, key: last.token_hash },
      }
    },
    async findLive(keys) {
      if (keys.length === 0) return []
      const rows = await run<Row>(REVOCATION_STATEMENTS.findLive, REVOCATIONS_LIVE_QUERY, [keys])
      const entries: RevocationEntry[] = []
      for (const row of rows) {
        const entry = toEntry(row)
        if (entry !== undefined) entries.push(entry)
      }
      return entries
    },
  }
}
