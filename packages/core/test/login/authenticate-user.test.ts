/** authenticateUser against the machine's PostgreSQL (a fresh schema, migrated), and with a lookup. */
import type pg from 'pg'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import {
  AuthUnavailableError,
  CredentialsInvalidError,
  InvalidRequestError,
} from '../../src/errors.js'
import {
  authenticateUser,
  createPasswordHasher,
  createRateLimiter,
  defaultPasswordHasher,
  hashPassword,
  type LoginAuditEvent,
  loginErrorResponse,
  TooManyAttemptsError,
} from '../../src/login/index.js'
import { migrate } from '../../src/permissions/store/index.js'
import { createTestSchema, seed, type TestSchema } from '../support/services.js'

const PASSWORD = 'correct horse battery staple'
let schema: TestSchema
let pool: pg.Pool

interface AuditRow {
  user_id: string | null
  event_type: string
  details: Record<string, unknown>
}

async function auditRows(): Promise<AuditRow[]> {
  const { rows } = await pool.query<AuditRow>(
    'SELECT user_id, event_type, details FROM audit_log ORDER BY id',
  )
  return rows
}

async function lastAudit(): Promise<AuditRow | undefined> {
  return (await auditRows()).at(-1)
}

async function settle(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    (value) => value,
    (error: unknown) => error,
  )
}

beforeAll(async () => {
  schema = await createTestSchema()
  pool = schema.pool()
  await migrate(pool)
  await seed(pool, {
    roles: { clerk: ['orders:read', 'orders:write'] },
    users: [
      { id: 'u-alice', roles: ['clerk'] },
      { id: 'u-old', roles: ['clerk'] },
      { id: 'u-gone', active: false },
      { id: 'u-dup1' },
      { id: 'u-dup2' },
    ],
  })
  const hash = await hashPassword(PASSWORD)
  const weak = await createPasswordHasher({ params: { memoryKiB: 4096, iterations: 1 } }).hash(
    PASSWORD,
  )
  await pool.query(`UPDATE users SET username = 'alice', password_hash = $1 WHERE id = 'u-alice'`, [
    hash,
  ])
  await pool.query(`UPDATE users SET username = 'old', password_hash = $1 WHERE id = 'u-old'`, [
    weak,
  ])
  await pool.query(`UPDATE users SET username = 'gone', password_hash = $1 WHERE id = 'u-gone'`, [
    hash,
  ])
  await pool.query(`UPDATE users SET username = 'dup', password_hash = $1 WHERE id LIKE 'u-dup%'`, [
    hash,
  ])
})

afterAll(async () => {
  await schema?.drop()
})

describe('authenticateUser with PostgreSQL', () => {
  it('logs in: permissions from the role tables, last_login updated, login_success audited', async () => {
    const before = await pool.query(`SELECT last_login FROM users WHERE id = 'u-alice'`)
    expect(before.rows[0].last_login).toBeNull()
    const user = await authenticateUser(
      { username: 'alice', password: PASSWORD, clientAddress: '203.0.113.5' },
      { pool },
    )
    expect(user).toMatchObject({
      id: 'u-alice',
      username: 'alice',
      roles: ['clerk'],
      rehashed: false,
      claims: { sub: 'u-alice', perms: ['orders:read', 'orders:write'] },
    })
    expect([...user.permissions].sort()).toEqual(['orders:read', 'orders:write'])
    const after = await pool.query<{ last_login: Date }>(
      `SELECT last_login FROM users WHERE id = 'u-alice'`,
    )
    expect(Date.now() - after.rows[0]!.last_login.getTime()).toBeLessThan(60_000)
    expect(await lastAudit()).toEqual({
      user_id: 'u-alice',
      event_type: 'login_success',
      details: { client_address: '203.0.113.5' },
    })
  })

  it('a wrong password is 401 credentials_invalid and a login_failure row with the user id', async () => {
    const error = await settle(
      authenticateUser(
        { username: 'alice', password: 'wrong', clientAddress: '203.0.113.5' },
        { pool },
      ),
    )
    expect(error).toBeInstanceOf(CredentialsInvalidError)
    expect(error).toMatchObject({ status: 401, code: 'credentials_invalid' })
    expect(await lastAudit()).toEqual({
      user_id: 'u-alice',
      event_type: 'login_failure',
      details: { reason: 'bad_password', client_address: '203.0.113.5' },
    })
    const answer = loginErrorResponse(error)
    expect(answer?.status).toBe(401)
    expect(answer?.headers['www-authenticate']).toBe('Bearer realm="api"')
  })

  it('unknown, inactive and ambiguous usernames fail the same way, each through one dummy verification', async () => {
    const hasher = defaultPasswordHasher()
    const spy = { ...hasher, verify: vi.fn(hasher.verify), hash: vi.fn(hasher.hash) }
    for (const username of ['nobody', 'gone', 'dup']) {
      spy.verify.mockClear()
      const error = await settle(
        authenticateUser({ username, password: PASSWORD }, { pool, hasher: spy }),
      )
      expect(error).toBeInstanceOf(CredentialsInvalidError)
      expect((error as Error).message).toBe('The username or password is not valid.')
      // the same call a known user's check makes, with no stored hash: the dummy hash answers
      expect(spy.verify).toHaveBeenCalledTimes(1)
      expect(spy.verify).toHaveBeenCalledWith(null, PASSWORD)
      expect(await lastAudit()).toEqual({
        user_id: null,
        event_type: 'login_failure',
        details: { reason: 'unknown_user' },
      })
    }
    spy.verify.mockClear()
    await settle(authenticateUser({ username: 'alice', password: 'wrong' }, { pool, hasher: spy }))
    expect(spy.verify).toHaveBeenCalledTimes(1)
    expect(spy.verify.mock.calls[0]?.[0]).toMatch(/^\$argon2id\$/)
    expect(spy.hash).not.toHaveBeenCalled()
  })

  it('rehashes a hash made with old parameters and stores the new one', async () => {
    const user = await authenticateUser({ username: 'old', password: PASSWORD }, { pool })
    expect(user.rehashed).toBe(true)
    const { rows } = await pool.query<{ password_hash: string }>(
      `SELECT password_hash FROM users WHERE id = 'u-old'`,
    )
    expect(rows[0]!.password_hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/)
    expect(await lastAudit()).toMatchObject({
      event_type: 'login_success',
      details: { rehashed: true },
    })
    const again = await authenticateUser({ username: 'old', password: PASSWORD }, { pool })
    expect(again.rehashed).toBe(false)
  })

  it('limits failures per username: 429 with Retry-After, audited as rate_limited, before any lookup', async () => {
    const limiter = createRateLimiter({ username: { maxFailures: 3, windowSeconds: 300 } })
    const attempt = { username: 'alice', password: 'guess', clientAddress: '198.51.100.4' }
    for (let i = 0; i < 3; i++) {
      expect(await settle(authenticateUser(attempt, { pool, limiter }))).toBeInstanceOf(
        CredentialsInvalidError,
      )
    }
    const hasher = defaultPasswordHasher()
    const spy = { ...hasher, verify: vi.fn(hasher.verify) }
    // even the right password is refused while the limit holds
    const error = await settle(
      authenticateUser({ ...attempt, password: PASSWORD }, { pool, limiter, hasher: spy }),
    )
    expect(error).toBeInstanceOf(TooManyAttemptsError)
    expect(spy.verify).not.toHaveBeenCalled()
    const answer = loginErrorResponse(error)
    expect(answer).toMatchObject({ status: 429 })
    expect(Number(answer?.headers['retry-after'])).toBeGreaterThan(290)
    expect(answer?.headers['content-type']).toBe('application/problem+json')
    expect(JSON.parse(answer!.body)).toMatchObject({ status: 429, code: 'too_many_attempts' })
    expect(await lastAudit()).toEqual({
      user_id: null,
      event_type: 'login_failure',
      details: { reason: 'rate_limited', client_address: '198.51.100.4' },
    })
  })

  it('never writes the password, a hash or a token into the audit log', async () => {
    const text = JSON.stringify(await auditRows())
    expect(text).not.toContain(PASSWORD)
    expect(text).not.toContain('guess')
    expect(text).not.toContain('$argon2')
  })

  it('a database failure is 503 auth_unavailable, never a login', async () => {
    const dead = schema.pool()
    await dead.end()
    const error = await settle(
      authenticateUser({ username: 'alice', password: PASSWORD }, { pool: dead }),
    )
    expect(error).toBeInstanceOf(AuthUnavailableError)
    expect(error).toMatchObject({ status: 503, code: 'auth_unavailable' })
    expect((error as Error).message).not.toContain('postgres')
  })
})

describe('authenticateUser with a lookup', () => {
  it('uses the lookup, recordLogin and the audit sink; permissions come from the record', async () => {
    const passwordHash = await hashPassword(PASSWORD)
    const events: LoginAuditEvent[] = []
    const recordLogin = vi.fn(async () => {})
    const store = {
      find: vi.fn(async (username: string) =>
        username === 'demo'
          ? { id: 'user-42', username: 'demo', passwordHash, permissions: ['orders:read'] }
          : null,
      ),
      recordLogin,
    }
    const user = await authenticateUser(
      { username: 'demo', password: PASSWORD },
      { lookup: store, audit: (event) => void events.push(event) },
    )
    expect(user.claims).toEqual({ sub: 'user-42', perms: ['orders:read'] })
    expect(recordLogin).toHaveBeenCalledWith('user-42', {})
    expect(events).toEqual([
      { type: 'login_success', userId: 'user-42', clientAddress: undefined, rehashed: false },
    ])
    expect(
      await settle(
        authenticateUser({ username: 'ghost', password: PASSWORD }, { lookup: store.find }),
      ),
    ).toBeInstanceOf(CredentialsInvalidError)
  })

  it('refuses bad input and bad options', async () => {
    const lookup = async () => null
    expect(
      await settle(authenticateUser({ username: 1, password: 'x' } as never, { lookup })),
    ).toBeInstanceOf(InvalidRequestError)
    await expect(authenticateUser({ username: 'a', password: 'b' }, {} as never)).rejects.toThrow(
      /either \{ pool \} or \{ lookup \}/,
    )
    const broken = async () => ({ nope: true })
    expect(
      await settle(authenticateUser({ username: 'a', password: 'b' }, { lookup: broken as never })),
    ).toBeInstanceOf(AuthUnavailableError)
  })
})
