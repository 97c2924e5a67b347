/** migrate() and postgresSource() against the machine's PostgreSQL, in a schema of their own. */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  countQueries,
  createTestSchema,
  seed,
  settle,
  type TestSchema,
} from '@authframework/test-support/services'
import type pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AuthUnavailableError } from '../../../src/errors.js'
import {
  createPostgresPool,
  MIGRATIONS_DIRECTORY,
  migrate,
  PERMISSION_STATEMENTS,
  POSTGRES_POOL_DEFAULTS,
  postgresSource,
  resolvePostgresPoolConfig,
} from '../../../src/index.js'

let schema: TestSchema
let pool: pg.Pool

beforeAll(async () => {
  schema = await createTestSchema()
  pool = schema.pool({ max: 3 })
  await migrate(pool)
  await seed(pool, {
    roles: {
      reader: ['orders:read', 'items:read'],
      writer: ['orders:write', 'orders:read'],
      empty: [],
    },
    users: [
      { id: 'alice', roles: ['reader', 'writer'] },
      { id: 'bob', roles: ['reader'] },
      { id: 'carol' },
      { id: 'dave', active: false, roles: ['writer'] },
      { id: 'erin', roles: ['empty'] },
    ],
  })
})

afterAll(async () => {
  await schema?.drop()
})

describe('migrate', () => {
  it('created every table in the search_path schema, not in public', async () => {
    const { rows } = await pool.query<{ table_name: string }>(
      'SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1',
      [schema.name],
    )
    expect(rows.map((row) => row.table_name)).toEqual([
      'audit_log',
      'changes',
      'permissions',
      'role_permissions',
      'roles',
      'schema_migrations',
      'sessions',
      'tokens',
      'user_roles',
      'users',
    ])
  })

  it('created exactly the indexes of the issue (besides primary keys and unique constraints)', async () => {
    const { rows } = await pool.query<{ indexdef: string }>(
      `SELECT i.indexdef FROM pg_indexes i
       WHERE i.schemaname = $1
         AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname
                         AND c.connamespace = $1::regnamespace)
       ORDER BY 1`,
      [schema.name],
    )
    const definitions = rows.map((row) =>
      row.indexdef.replace(`${schema.name}.`, '').replace(/^CREATE INDEX \S+ ON /, ''),
    )
    expect(definitions.sort()).toEqual(
      [
        'audit_log USING btree (event_type, "timestamp" DESC)',
        'audit_log USING btree (user_id, "timestamp" DESC)',
        'changes USING btree (changed_at)',
        'changes USING btree (id) WHERE (version IS NULL)',
        'role_permissions USING btree (role_id)',
        'sessions USING btree (expires_at) WHERE active',
        'sessions USING btree (expires_at) WHERE (NOT active)',
        'sessions USING btree (last_activity DESC) WHERE active',
        'sessions USING btree (user_id, created_at DESC)',
        'tokens USING btree (expires_at) WHERE (NOT revoked)',
        'tokens USING btree (expires_at) WHERE revoked',
        'tokens USING btree (changed_at, token_hash) WHERE revoked',
        'tokens USING btree (user_id, expires_at DESC)',
        'user_roles USING btree (role_id)',
        'user_roles USING btree (user_id)',
        'users USING btree (email) WHERE active',
        'users USING btree (last_login DESC) WHERE active',
        'users USING btree (username) WHERE active',
      ].sort(),
    )
    // tokens(token_hash) is the primary key of tokens.
    const { rows: pk } = await pool.query<{ indexdef: string }>(
      "SELECT indexdef FROM pg_indexes WHERE schemaname = $1 AND indexname = 'tokens_pkey'",
      [schema.name],
    )
    expect(pk[0]?.indexdef).toMatch(/UNIQUE INDEX tokens_pkey ON \S+ USING btree \(token_hash\)/)
  })

  it('is idempotent and safe to run concurrently (advisory lock)', async () => {
    expect(await migrate(pool)).toEqual({
      applied: [],
      skipped: ['0001_initial', '0002_revocations', '0003_changes', '0004_number_changes_in_turn'],
    })
    const fresh = await createTestSchema()
    try {
      const other = fresh.pool({ max: 5 })
      const results = await Promise.all(Array.from({ length: 5 }, () => migrate(other)))
      expect(results.flatMap((result) => result.applied)).toEqual([
        '0001_initial',
        '0002_revocations',
        '0003_changes',
        '0004_number_changes_in_turn',
      ])
      const { rows } = await other.query('SELECT version FROM schema_migrations ORDER BY 1')
      expect(rows).toEqual([
        { version: '0001_initial' },
        { version: '0002_revocations' },
        { version: '0003_changes' },
        { version: '0004_number_changes_in_turn' },
      ])
    } finally {
      await fresh.drop()
    }
  })

  it('refuses a migration that was edited after it was applied', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'af-migrations-'))
    try {
      const original = await readFile(join(MIGRATIONS_DIRECTORY, '0001_initial.sql'), 'utf8')
      await writeFile(join(dir, '0001_initial.sql'), `${original}\n-- edited\n`)
      await expect(migrate(pool, { directory: dir })).rejects.toThrow(/0001_initial.*changed/)
    } finally {
      await rm(dir, { recursive: true })
    }
  })
})

describe('postgresSource', () => {
  it('answers permissions and roles of active users in one named statement', async () => {
    const counter = countQueries(pool)
    const source = postgresSource({ pool })
    const alice = await source.lookup('alice')
    expect({
      permissions: [...alice!.permissions].sort(),
      roles: [...alice!.roles!].sort(),
    }).toEqual({
      permissions: ['items:read', 'orders:read', 'orders:write'], // DISTINCT across roles
      roles: ['reader', 'writer'],
    })
    expect(await source.lookup('carol')).toEqual({ permissions: [], roles: [] })
    expect(await source.lookup('erin')).toEqual({ permissions: [], roles: ['empty'] })
    expect(await source.lookup('dave')).toBeNull() // inactive
    expect(await source.lookup('nobody')).toBeNull()
    expect([...counter.byName]).toEqual([[PERMISSION_STATEMENTS.one, 5]])
  })

  it('prepares the statement once per connection', async () => {
    const single = schema.pool({ max: 1 })
    const source = postgresSource({ pool: single })
    await source.lookup('alice')
    await source.lookup('bob')
    const { rows } = await single.query<{ name: string }>('SELECT name FROM pg_prepared_statements')
    expect(rows.map((row) => row.name)).toEqual([PERMISSION_STATEMENTS.one])
  })

  it('answers a batch with one WHERE u.id = ANY($1) query', async () => {
    const counter = countQueries(pool)
    const source = postgresSource({ pool })
    const answers = await source.lookupMany!(['alice', 'bob', 'dave', 'nobody', 'bob'])
    expect([...answers.keys()].sort()).toEqual(['alice', 'bob', 'dave', 'nobody'])
    expect(answers.get('bob')?.permissions).toEqual(['items:read', 'orders:read'])
    expect(answers.get('dave')).toBeNull()
    expect(answers.get('nobody')).toBeNull()
    expect([...counter.byName]).toEqual([[PERMISSION_STATEMENTS.many, 1]])
  })

  it('treats ids as data: quotes, wildcards, CR/LF, spaces and unicode', async () => {
    const ids = [
      "o'brien",
      '*',
      '%',
      '_',
      'x\r\nDROP TABLE users;--',
      '"quoted"',
      ' spaced id ',
      'ünï😀',
      '\\',
    ]
    await seed(pool, {
      roles: Object.fromEntries(ids.map((_, i) => [`role-${i}`, [`perm-${i}`]])),
      users: ids.map((id, i) => ({ id, roles: [`role-${i}`] })),
    })
    const source = postgresSource({ pool })
    for (const [i, id] of ids.entries()) {
      expect(await source.lookup(id), JSON.stringify(id)).toEqual({
        permissions: [`perm-${i}`],
        roles: [`role-${i}`],
      })
    }
    const many = await source.lookupMany!(ids)
    expect(ids.map((id) => many.get(id)?.permissions[0])).toEqual(ids.map((_, i) => `perm-${i}`))
    expect(await source.lookup('%brien')).toBeNull()
    expect(await source.lookup('\uD83D')).toBeNull() // half of 😀: not a prefix match, not U+FFFD
  })

  it('rejects with auth_unavailable when the statement outlives its timeouts', async () => {
    // Hold a lock that the lookup must wait for: a real slow query, not a mock.
    const holder = await pool.connect()
    try {
      await holder.query('BEGIN')
      await holder.query('LOCK TABLE users IN ACCESS EXCLUSIVE MODE')

      const raced = postgresSource({ pool, timeoutMs: 200 })
      const start = performance.now()
      const outcome = await settle(raced.lookup('alice'))
      const ms = performance.now() - start
      expect(outcome.ok).toBe(false)
      expect(!outcome.ok && outcome.error).toBeInstanceOf(AuthUnavailableError)
      expect(!outcome.ok && (outcome.error as Error).cause).toMatchObject({ name: 'TimeoutError' })
      expect(ms).toBeGreaterThanOrEqual(190)
      expect(ms).toBeLessThan(1000)

      const owned = postgresSource({
        connectionString: schema.poolConfig().connectionString!,
        poolOptions: { max: 1, options: `-c search_path=${schema.name}`, statement_timeout: 150 },
      })
      const server = await settle(owned.lookup('alice'))
      expect(!server.ok && (server.error as Error).cause).toMatchObject({ code: '57014' }) // statement_timeout
      await owned.close()
    } finally {
      await holder.query('ROLLBACK')
      holder.release()
    }
  })
})

describe('createPostgresPool', () => {
  it('uses the production defaults, each overridable', async () => {
    expect(POSTGRES_POOL_DEFAULTS).toMatchObject({
      max: 50,
      min: 10,
      connectionTimeoutMillis: 2000,
      keepAlive: true,
      idleTimeoutMillis: 600_000,
      maxLifetimeSeconds: 1800,
      application_name: 'auth_framework',
      statement_timeout: 30_000,
      lock_timeout: 10_000,
      idle_in_transaction_session_timeout: 60_000,
    })
    expect(resolvePostgresPoolConfig({ max: 5, lock_timeout: 500 })).toMatchObject({
      max: 5,
      min: 5,
      lock_timeout: 500,
    })
    expect(() => resolvePostgresPoolConfig({ max: 0 })).toThrow(/max/)
    expect(() => resolvePostgresPoolConfig({ idleTimeoutMillis: -1 })).toThrow(/idleTimeoutMillis/)

    const owned = createPostgresPool({
      connectionString: schema.poolConfig().connectionString,
      max: 1,
    })
    try {
      const { rows } = await owned.query(
        `SELECT current_setting('application_name') AS application_name,
                current_setting('statement_timeout') AS statement_timeout,
                current_setting('lock_timeout') AS lock_timeout,
                current_setting('idle_in_transaction_session_timeout') AS idle`,
      )
      expect(rows[0]).toEqual({
        application_name: 'auth_framework',
        statement_timeout: '30s',
        lock_timeout: '10s',
        idle: '1min',
      })
      expect(owned.options).toMatchObject({
        max: 1,
        min: 1,
        idleTimeoutMillis: 600_000,
        maxLifetimeSeconds: 1800,
      })
    } finally {
      await owned.end()
    }
  })

  it('ends the pool it owns on close, and fails closed afterwards', async () => {
    const source = postgresSource({
      connectionString: schema.poolConfig().connectionString!,
      poolOptions: { max: 1, options: `-c search_path=${schema.name}` },
    })
    expect(await source.lookup('bob')).not.toBeNull()
    await source.close()
    await source.close()
    await expect(source.lookup('bob')).rejects.toBeInstanceOf(AuthUnavailableError)
  })

  it('rejects bad configuration at construction', () => {
    expect(() => postgresSource({} as never)).toThrow(/pool.*connectionString/)
    expect(() => postgresSource({ pool, timeoutMs: 0 })).toThrow(/timeoutMs/)
    expect(() => postgresSource({ pool: {} as never })).toThrow(/pool/)
  })
})
