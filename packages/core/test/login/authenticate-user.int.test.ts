/** authenticateUser against the machine's PostgreSQL (a fresh schema, migrated), and with a lookup. */

import {
  connectRedis,
  countQueries,
  createTestSchema,
  deleteKeys,
  runId,
  seed,
  type TestSchema,
} from '@authframework/test-support/services'
import type pg from 'pg'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import {
  AuthUnavailableError,
  CredentialsInvalidError,
  InvalidRequestError,
} from '../../src/errors.js'
import { migrate } from '../../src/index.js'
import {
  authenticateUser,
  createLogin,
  createPasswordHasher,
  createRateLimiter,
  defaultPasswordHasher,
  hashPassword,
  type LoginAuditEvent,
  loginErrorResponse,
  MAX_PASSWORD_BYTES,
  type PasswordHasher,
  TooManyAttemptsError,
} from '../../src/login/index.js'
import { createMetrics } from '../../src/metrics/metrics.js'
import { prometheusText } from '../../src/metrics/prometheus.js'

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
    // a login is not a bearer-token request: no challenge that would describe one
    expect(answer?.headers['www-authenticate']).toBeUndefined()
    expect(answer?.headers['content-type']).toBe('application/problem+json')
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

/** A hasher that counts the password checks it runs (and the dummy hashes asked for). */
function countingHasher(base: PasswordHasher = defaultPasswordHasher()) {
  return { ...base, verify: vi.fn(base.verify), dummyHash: vi.fn(base.dummyHash) }
}

/** Settles `n` concurrent logins: how many succeeded, were refused (401) or limited (429). */
async function loginBurst(
  attempt: (i: number) => Promise<unknown>,
  n: number,
): Promise<{ ok: number; invalid: number; limited: number }> {
  const results = await Promise.all(Array.from({ length: n }, (_, i) => settle(attempt(i))))
  const count = (type: new (...args: never[]) => unknown) =>
    results.filter((r) => r instanceof type).length
  const ok = results.filter((r) => (r as { id?: unknown })?.id !== undefined).length
  const invalid = count(CredentialsInvalidError)
  const limited = count(TooManyAttemptsError)
  expect(ok + invalid + limited, 'every attempt is a login, a 401 or a 429').toBe(n)
  return { ok, invalid, limited }
}

describe('a burst of concurrent guesses (issue 16)', () => {
  const guesses = (i: number) => (i === 49 ? PASSWORD : `guess-${i}`)

  it('memory: 49 wrong passwords and the right one at once run at most 5 password checks', async () => {
    const hasher = countingHasher()
    const limiter = createRateLimiter() // 5 per username, 50 per address
    const result = await loginBurst(
      (i) =>
        authenticateUser(
          { username: 'alice', password: guesses(i), clientAddress: '198.51.100.20' },
          { pool, limiter, hasher, audit: false },
        ),
      50,
    )
    expect(hasher.verify.mock.calls.length).toBeLessThanOrEqual(5)
    expect(result.invalid + result.ok).toBe(hasher.verify.mock.calls.length)
    expect(result.limited).toBe(50 - hasher.verify.mock.calls.length)
    // once the limit is used up, the right password inside a burst does not log in
    hasher.verify.mockClear()
    const after = await loginBurst(
      (i) =>
        authenticateUser(
          { username: 'alice', password: guesses(i + 40), clientAddress: '198.51.100.21' },
          { pool, limiter, hasher, audit: false },
        ),
      10,
    )
    expect(after).toEqual({ ok: 0, invalid: 0, limited: 10 })
    expect(hasher.verify).not.toHaveBeenCalled()
  })

  it('Redis, two instances: at most 5 password checks between them, and the right one refused after', async () => {
    const redis = await connectRedis()
    const other = await connectRedis()
    const keyPrefix = `aftest:${runId()}:login:`
    try {
      const hasher = countingHasher()
      const instances = [redis, other].map((client) =>
        createLogin({
          pool,
          limiter: createRateLimiter({ redis: { client, keyPrefix } }),
          hasher,
          audit: false,
        }),
      )
      const attempt = (i: number, offset = 0) =>
        instances[i % 2]!.authenticate({
          username: 'alice',
          password: guesses(i + offset),
          clientAddress: '2001:db8:16::1',
        })
      const result = await loginBurst((i) => attempt(i), 50)
      expect(hasher.verify.mock.calls.length).toBeLessThanOrEqual(5)
      expect(result.invalid + result.ok).toBe(hasher.verify.mock.calls.length)
      expect(result.limited).toBe(50 - hasher.verify.mock.calls.length)
      hasher.verify.mockClear()
      expect(await loginBurst((i) => attempt(i, 40), 10)).toEqual({
        ok: 0,
        invalid: 0,
        limited: 10,
      })
      expect(hasher.verify).not.toHaveBeenCalled()
    } finally {
      await deleteKeys(redis, keyPrefix)
      redis.disconnect()
      other.disconnect()
    }
  })

  it('counts every outcome, 429s included, in the metrics', async () => {
    const metrics = createMetrics()
    const login = createLogin({
      pool,
      limiter: createRateLimiter({ username: { maxFailures: 2, windowSeconds: 60 } }),
      metrics,
      audit: false,
    })
    const attempt = (password: string) =>
      settle(login.authenticate({ username: 'old', password, clientAddress: '192.0.2.30' }))
    await attempt(PASSWORD)
    await attempt('wrong')
    await attempt('wrong')
    await attempt('wrong')
    await attempt('wrong')
    await settle(login.authenticate({ username: 7, password: 'x' } as never))
    expect(metrics.snapshot().logins).toMatchObject({
      ok: 1,
      credentials_invalid: 2,
      too_many_attempts: 2,
      invalid_request: 1,
    })
    expect(prometheusText(metrics)).toContain(
      'authframework_logins_total{outcome="too_many_attempts"} 2',
    )
  })
})

describe('the dummy hash (issue 16)', () => {
  it('is asked for when the login is created, and awaited by every login, known user or not', async () => {
    const passwordHash = await hashPassword(PASSWORD)
    const hasher = countingHasher()
    const login = createLogin({
      lookup: async (username) =>
        username === 'demo' ? { id: 'u-1', username, passwordHash } : null,
      hasher,
    })
    expect(hasher.dummyHash).toHaveBeenCalledTimes(1) // at creation, before any request
    await login.authenticate({ username: 'demo', password: PASSWORD })
    expect(hasher.dummyHash).toHaveBeenCalledTimes(2)
    await settle(login.authenticate({ username: 'ghost', password: PASSWORD }))
    expect(hasher.dummyHash).toHaveBeenCalledTimes(3)
  })
})

describe('usernames that cannot be stored (issue 16)', () => {
  const cases: [string, string][] = [
    ['NUL', 'alice\u0000'],
    ['a lone NUL', '\u0000'],
    ['another C0 control', 'ali\u0007ce'],
    ['a newline', 'alice\nadmin'],
    ['DEL', 'alice\u007f'],
    ['a C1 control', 'alice\u0085'],
    ['a lone high surrogate', 'alice\ud800'],
    ['a lone low surrogate', '\udc00alice'],
    ['a noncharacter', 'alice\uffff'],
    ['257 characters', 'a'.repeat(257)],
    ['a megabyte', 'b'.repeat(1 << 20)],
    ['nothing', ''],
  ]

  it.each(cases)(
    '%s: 401 credentials_invalid, counted, audited, no lookup, one verification',
    async (_, username) => {
      const queries = countQueries(pool)
      const hasher = countingHasher()
      const limiter = createRateLimiter({ username: { maxFailures: 1, windowSeconds: 60 } })
      const before = (await auditRows()).length
      const error = await settle(
        authenticateUser(
          { username, password: PASSWORD, clientAddress: '192.0.2.40' },
          { pool, limiter, hasher },
        ),
      )
      expect(error).toBeInstanceOf(CredentialsInvalidError)
      expect(loginErrorResponse(error)).toMatchObject({ status: 401 })
      expect(hasher.verify).toHaveBeenCalledTimes(1)
      expect(hasher.verify).toHaveBeenCalledWith(null, PASSWORD)
      expect(queries.byName.get('authframework_login_user_v1') ?? 0).toBe(0)
      const rows = await auditRows()
      expect(rows.length).toBe(before + 1)
      expect(rows.at(-1)).toEqual({
        user_id: null,
        event_type: 'login_failure',
        details: { reason: 'unknown_user', client_address: '192.0.2.40' },
      })
      // counted: the next attempt with that name is over the limit
      expect(
        await settle(authenticateUser({ username, password: PASSWORD }, { pool, limiter, hasher })),
      ).toBeInstanceOf(TooManyAttemptsError)
    },
  )

  it('a client address PostgreSQL cannot store is audited without the bad characters', async () => {
    for (const clientAddress of ['192.0.2.1\u0000', '\ud800x', `${'9'.repeat(500)}`]) {
      const error = await settle(
        authenticateUser({ username: 'nobody', password: 'x', clientAddress }, { pool }),
      )
      expect(error).toBeInstanceOf(CredentialsInvalidError)
      const details = (await lastAudit())!.details
      expect(details.reason).toBe('unknown_user')
      expect(String(details.client_address)).not.toMatch(/[\p{Cc}\p{Cs}]/u)
      expect(String(details.client_address).length).toBeLessThanOrEqual(65)
    }
  })

  it('a NUL in the password is an ordinary password: no 503', async () => {
    const withNul = `${PASSWORD}\u0000x`
    const stored = await hashPassword(withNul)
    const lookup = async (username: string) =>
      username === 'nul' ? { id: 'u-nul', username, passwordHash: stored } : null
    const user = await authenticateUser({ username: 'nul', password: withNul }, { lookup })
    expect(user.id).toBe('u-nul')
    expect(
      await settle(authenticateUser({ username: 'nul', password: PASSWORD }, { lookup })),
    ).toBeInstanceOf(CredentialsInvalidError)
    expect(
      await settle(authenticateUser({ username: 'alice', password: '\u0000' }, { pool })),
    ).toBeInstanceOf(CredentialsInvalidError)
  })

  it('a password over 1024 bytes is 401 after one verification that never sees it', async () => {
    const hasher = countingHasher()
    const limiter = createRateLimiter({ username: { maxFailures: 1, windowSeconds: 60 } })
    const long = 'p'.repeat(MAX_PASSWORD_BYTES + 1)
    const error = await settle(
      authenticateUser({ username: 'alice', password: long }, { pool, limiter, hasher }),
    )
    expect(error).toBeInstanceOf(CredentialsInvalidError)
    expect(hasher.verify).toHaveBeenCalledTimes(1)
    expect(await lastAudit()).toMatchObject({ user_id: 'u-alice', event_type: 'login_failure' })
    expect(
      await settle(authenticateUser({ username: 'alice', password: long }, { pool, limiter })),
    ).toBeInstanceOf(TooManyAttemptsError)
  })
})
