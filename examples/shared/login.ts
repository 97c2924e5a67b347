/**
 * `POST /login` and `POST /logout` for the three examples, framework-free: each app only hands over
 * the parsed body, the client address and the `Authorization` header, and sends back the answer.
 */
import { randomBytes } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import { InvalidRequestError, migrate, type RevokeTarget, type Signer } from '@authframework/core'
import {
  authenticateUser,
  createRateLimiter,
  defaultPasswordHasher,
  hashPassword,
  type LoginUserRecord,
  loginErrorResponse,
  type RateLimiter,
  type UserStore,
} from '@authframework/core/login'
import type pg from 'pg'

/** What logout needs of an auth instance (any adapter's `createAuth()` result). */
export interface Revoker {
  revoke(target: RevokeTarget): Promise<void>
}

/** An HTTP answer any framework can send. */
export interface Answer {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  /** JSON text, or empty for 204. */
  readonly body: string
}

/** The demo user of the embedded default; its password is random unless `DEMO_PASSWORD` is set. */
export interface DemoUser {
  readonly id: string
  readonly username: string
  readonly password: string
  readonly permissions: readonly string[]
}

export interface LoginService {
  /** `POST /login` with a JSON `{ username, password }` body. */
  login(body: unknown, clientAddress: string | undefined): Promise<Answer>
  /** `POST /logout` (behind the auth middleware): revokes the presented bearer token. */
  logout(auth: Revoker, authorization: string | string[] | undefined): Promise<Answer>
  /** Where users come from, for the banner. */
  readonly source: 'memory' | 'postgres'
}

export interface LoginServiceOptions {
  readonly signer: Signer
  /** Lifetime of the issued access tokens. Default 900. */
  readonly ttlSeconds?: number
  /** A user store (the embedded default), or a pool on a migrated schema. */
  readonly users: UserStore | { readonly pool: pg.Pool }
  readonly limiter?: RateLimiter
}

/** The embedded user list: the demo user, hashed once at start-up (`find` waits for it). */
export function createMemoryUsers(user: DemoUser): UserStore {
  const ready: Promise<LoginUserRecord> = hashPassword(user.password).then((passwordHash) => ({
    id: user.id,
    username: user.username,
    passwordHash,
    permissions: user.permissions,
  }))
  return {
    async find(username) {
      const record = await ready
      return record.username === username ? record : null
    },
  }
}

/** A demo user with a random password (or `DEMO_PASSWORD`). */
export function demoUser(password = process.env.DEMO_PASSWORD): DemoUser {
  return {
    id: 'user-42',
    username: 'demo',
    password: password || randomBytes(9).toString('base64url'),
    permissions: ['orders:read'],
  }
}

/**
 * With `DATABASE_URL`: migrates, and seeds the demo user (role `reader` with `orders:read`) only
 * into an empty `users` table, so a real user table never gains a demo account.
 */
export async function prepareDatabase(pool: pg.Pool, user: DemoUser): Promise<boolean> {
  await migrate(pool)
  const client = await pool.connect()
  try {
    await client.query('BEGIN')
    await client.query('LOCK TABLE users IN EXCLUSIVE MODE')
    const { rows } = await client.query('SELECT 1 FROM users LIMIT 1')
    if (rows.length > 0) {
      await client.query('ROLLBACK')
      return false
    }
    await client.query(`INSERT INTO roles (name) VALUES ('reader') ON CONFLICT DO NOTHING`)
    for (const permission of user.permissions) {
      await client.query('INSERT INTO permissions (name) VALUES ($1) ON CONFLICT DO NOTHING', [
        permission,
      ])
      await client.query(
        `INSERT INTO role_permissions (role_id, permission_id)
         SELECT r.id, p.id FROM roles r, permissions p WHERE r.name = 'reader' AND p.name = $1
         ON CONFLICT DO NOTHING`,
        [permission],
      )
    }
    await client.query('INSERT INTO users (id, username, password_hash) VALUES ($1, $2, $3)', [
      user.id,
      user.username,
      await hashPassword(user.password),
    ])
    await client.query(
      `INSERT INTO user_roles (user_id, role_id) SELECT $1, id FROM roles WHERE name = 'reader'`,
      [user.id],
    )
    await client.query('COMMIT')
    return true
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {})
    throw error
  } finally {
    client.release()
  }
}

const JSON_HEADERS = {
  'content-type': 'application/json',
  'cache-control': 'no-store',
  pragma: 'no-cache',
}

function failure(error: unknown): Answer {
  const answer = loginErrorResponse(error)
  if (answer === undefined) throw error
  return answer
}

/**
 * The login and logout handlers.
 *
 * @example
 * const service = createLoginService({ signer, users: createMemoryUsers(demoUser()) })
 * const answer = await service.login(req.body, req.ip)
 * res.writeHead(answer.status, answer.headers).end(answer.body)
 */
export function createLoginService(options: LoginServiceOptions): LoginService {
  const ttlSeconds = options.ttlSeconds ?? 900
  const limiter = options.limiter ?? createRateLimiter()
  const users = options.users
  const source = 'pool' in users ? 'postgres' : 'memory'
  const store = 'pool' in users ? { pool: users.pool } : { lookup: users }
  // Made now, so the first unknown-user login does not pay for it (and take longer than the others).
  defaultPasswordHasher()
    .dummyHash()
    .catch(() => {})
  return {
    source,
    async login(body, clientAddress) {
      try {
        const { username, password } = (body ?? {}) as { username?: unknown; password?: unknown }
        if (typeof username !== 'string' || typeof password !== 'string') {
          throw new InvalidRequestError('Send a JSON body { "username": ..., "password": ... }.')
        }
        const user = await authenticateUser(
          { username, password, clientAddress },
          { ...store, limiter },
        )
        const token = {
          access_token: options.signer.sign(user.claims, { ttlSeconds }),
          token_type: 'Bearer',
          expires_in: ttlSeconds,
        }
        return { status: 200, headers: JSON_HEADERS, body: JSON.stringify(token) }
      } catch (error) {
        return failure(error)
      }
    },
    async logout(auth, authorization) {
      const header = Array.isArray(authorization) ? authorization[0] : authorization
      const token = /^Bearer +(\S+)$/i.exec(header ?? '')?.[1]
      if (token === undefined) {
        return failure(new InvalidRequestError('POST /logout needs the bearer token to revoke.'))
      }
      await auth.revoke({ token })
      return { status: 204, headers: { 'cache-control': 'no-store' }, body: '' }
    },
  }
}

/** Reads a JSON body of at most `maxBytes` (for Koa, which has no body parser built in). */
export async function readJson(req: IncomingMessage, maxBytes = 16_384): Promise<unknown> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size > maxBytes) return undefined
    chunks.push(chunk as Buffer)
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'))
  } catch {
    return undefined
  }
}
