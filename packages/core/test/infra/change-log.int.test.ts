/**
 * The change log against the real PostgreSQL: versions commit in order, every instance hears what
 * others append, copies stamped before a change are out of date, and history survives a restart.
 */

import { createTestSchema, seed, type TestSchema } from '@authframework/test-support/services'
import type pg from 'pg'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { migrate, sweepChanges } from '../../src/index.js'
import { type ChangeLog, createChangeLog } from '../../src/infra/change-log.js'

let schema: TestSchema
let pool: pg.Pool
const logs: ChangeLog[] = []

beforeAll(async () => {
  schema = await createTestSchema()
  pool = schema.pool({ max: 6 })
  await migrate(pool)
})

afterEach(async () => {
  await Promise.all(logs.splice(0).map((log) => log.close()))
})

afterAll(async () => {
  await schema?.drop()
})

async function open(options: Partial<Parameters<typeof createChangeLog>[0]> = {}) {
  const log = createChangeLog({ pool, pollIntervalMs: 20, ...options })
  logs.push(log)
  await log.ready()
  return log
}

async function until(check: () => boolean, timeoutMs = 3000): Promise<void> {
  const start = performance.now()
  while (!check()) {
    if (performance.now() - start > timeoutMs) throw new Error(`not true within ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

describe('the change log', () => {
  it('numbers what has committed, so a writer held open never hides behind a later version', async () => {
    const log = await open()
    const heard: string[] = []
    log.subscribe('permissions', (key) => heard.push(key))
    const slow = await pool.connect()
    try {
      await slow.query('BEGIN')
      await log.append('permissions', 'slow', slow) // inserted first, committed last
      await Promise.all(
        Array.from({ length: 20 }, (_, i) => log.append('permissions', `user-${i}`)),
      )
      await log.poll()
      expect(heard).toHaveLength(20)
      const seen = log.version
      await slow.query('COMMIT')
      await log.poll()
      expect(heard.at(-1)).toBe('slow')
      expect(log.version).toBeGreaterThan(seen)
    } finally {
      slow.release()
    }
    const { rows } = await pool.query('SELECT version FROM changes WHERE version IS NOT NULL')
    expect(new Set(rows.map((row) => row.version)).size).toBe(21)
  })

  it('a read begun after a change committed sees it, even while another reader is numbering', async () => {
    const log = await open({ pollIntervalMs: 60_000 })
    const heard: string[] = []
    log.subscribe('permissions', (key) => heard.push(key))
    // another reader in the middle of numbering: it holds the numbering lock in its transaction
    const other = await pool.connect()
    try {
      await other.query('BEGIN')
      await other.query(
        "SELECT pg_advisory_xact_lock(hashtextextended('authframework:changes:' || current_schema(), 0))",
      )
      await log.append('permissions', 'committed-before-the-read')
      const read = log.poll()
      await new Promise((resolve) => setTimeout(resolve, 100))
      expect(heard).toEqual([]) // it waits for its turn to number
      await other.query('COMMIT')
      await read
      expect(heard).toEqual(['committed-before-the-read'])
    } finally {
      other.release()
    }
  })

  it('tells every instance what any instance appended, and marks older copies out of date', async () => {
    const a = await open()
    const b = await open()
    const heard: string[] = []
    b.subscribe('sessions', (key) => heard.push(key))
    const stamp = b.version
    expect(b.isCurrent('sessions', 'sid-1', stamp)).toBe(true)
    await a.append('sessions', 'sid-1')
    await until(() => heard.includes('sid-1'))
    const version = b.version
    expect(b.isCurrent('sessions', 'sid-1', stamp)).toBe(false) // read before the change
    expect(b.isCurrent('sessions', 'sid-1', version)).toBe(true) // read after it
    expect(b.isCurrent('permissions', 'sid-1', stamp)).toBe(true) // another topic
    expect(b.isCurrent('sessions', 'sid-2', stamp)).toBe(true) // another key
  })

  it('a change made inside a transaction is heard once it commits, never if it rolls back', async () => {
    const a = await open()
    const heard: string[] = []
    a.subscribe('revocations', (key) => heard.push(key))
    const client = await pool.connect()
    try {
      await client.query('BEGIN')
      await a.append('revocations', 'rolled-back', client)
      await client.query('ROLLBACK')
      await client.query('BEGIN')
      await a.append('revocations', 'committed', client)
      await a.poll()
      expect(heard).toEqual([])
      await client.query('COMMIT')
    } finally {
      client.release()
    }
    await a.poll()
    expect(heard).toEqual(['committed'])
  })

  it('a new instance remembers the recent history, and distrusts copies older than it', async () => {
    const a = await open()
    const before = a.version
    await a.append('permissions', 'alice')
    const version = await a.poll()
    const late = await open({ historySeconds: 3600 })
    expect(late.isCurrent('permissions', 'alice', before)).toBe(false)
    expect(late.isCurrent('permissions', 'alice', version)).toBe(true)
    // a copy stamped before everything this instance remembers may predate a forgotten change
    await pool.query("UPDATE changes SET changed_at = now() - interval '2 hours'")
    await a.append('permissions', 'bob')
    const fresh = await open({ historySeconds: 3600 })
    expect(fresh.isCurrent('permissions', 'carol', before)).toBe(false)
    // what the window still covers is known: nothing changed carol after alice's change
    expect(fresh.isCurrent('permissions', 'carol', version)).toBe(true)
    expect(fresh.isCurrent('permissions', 'carol', fresh.version)).toBe(true)
  })

  it('remembers at most maxKeys keys, and distrusts copies older than what it forgot', async () => {
    const a = await open({ maxKeys: 3 })
    const stamp = a.version
    for (const key of ['k1', 'k2', 'k3', 'k4']) await a.append('permissions', key)
    await a.poll()
    expect(a.isCurrent('permissions', 'k9', stamp)).toBe(false) // k1 was forgotten
    expect(a.isCurrent('permissions', 'k9', a.version)).toBe(true)
  })

  it('records every change a cache may hold a copy of, made by any SQL writer', async () => {
    await seed(pool, {
      roles: { clerk: ['orders:read'], auditor: ['audit:read'] },
      users: [
        { id: 't-ann', roles: ['clerk'] },
        { id: 't-bob', roles: ['clerk', 'auditor'] },
        { id: 't-cid', roles: ['auditor'] },
      ],
    })
    const log = await open()
    const heard: string[] = []
    for (const topic of ['permissions', 'sessions', 'revocations'] as const) {
      log.subscribe(topic, (key) => heard.push(`${topic}:${key}`))
    }
    const expectHeard = async (sql: string, values: unknown[], expected: string[]) => {
      heard.length = 0
      await pool.query(sql, values)
      await log.poll()
      expect(new Set(heard), sql).toEqual(new Set(expected))
    }
    await pool.query(
      `INSERT INTO sessions (id, user_id, expires_at) VALUES
       ('s-ann', 't-ann', now() + interval '1 hour'), ('s-old', 't-ann', now() - interval '1 hour')`,
    )
    await expectHeard("UPDATE users SET last_login = now() WHERE id = 't-ann'", [], [])
    await expectHeard(
      "UPDATE users SET active = false WHERE id = 't-ann'",
      [],
      ['permissions:t-ann', 'sessions:s-ann', 'sessions:s-old'],
    )
    await expectHeard(
      "DELETE FROM user_roles WHERE user_id = 't-bob' AND role_id = (SELECT id FROM roles WHERE name = 'auditor')",
      [],
      ['permissions:t-bob'],
    )
    await expectHeard(
      `INSERT INTO role_permissions (role_id, permission_id)
       SELECT r.id, p.id FROM roles r, permissions p WHERE r.name = 'clerk' AND p.name = 'audit:read'`,
      [],
      ['permissions:t-ann', 'permissions:t-bob'],
    )
    await expectHeard(
      "UPDATE roles SET name = 'reviewer' WHERE name = 'auditor'",
      [],
      ['permissions:t-cid'],
    )
    await expectHeard(
      "UPDATE permissions SET name = 'orders:view' WHERE name = 'orders:read'",
      [],
      ['permissions:t-ann', 'permissions:t-bob'],
    )
    await expectHeard(
      "UPDATE sessions SET active = false WHERE id = 's-ann'",
      [],
      ['sessions:s-ann'],
    )
    await expectHeard("DELETE FROM sessions WHERE id = 's-old'", [], []) // expired: nobody caches it
    await expectHeard(
      "INSERT INTO tokens (token_hash, user_id, expires_at, revoked) VALUES ('h1', 't-bob', now() + interval '1 hour', true)",
      [],
      ['revocations:h1'],
    )
    await expectHeard("DELETE FROM users WHERE id = 't-cid'", [], ['permissions:t-cid'])
  })

  it('sweepChanges deletes numbered rows older than two hours, never one still to be numbered', async () => {
    const log = await open()
    await log.append('permissions', 'old')
    const seen = await log.poll()
    await log.close() // nothing numbers the next row until a log reads again
    await log.append('permissions', 'pending')
    await pool.query("UPDATE changes SET changed_at = now() - interval '3 hours'")
    const before = Number((await pool.query('SELECT count(*) FROM changes')).rows[0].count)
    const result = await sweepChanges(pool)
    expect(result.deleted).toBe(before - 1)
    const { rows } = await pool.query('SELECT key, version FROM changes')
    expect(rows).toEqual([{ key: 'pending', version: null }])
    // the sequence goes on: the next reader numbers it after everything swept
    const next = await open()
    expect(next.version).toBeGreaterThan(seen)
  })
})
