/**
 * `POST /login` and `POST /logout` for the three examples, framework-free: each app only hands over
 * the raw request (whose body this module reads), the client address, the metrics and the
 * `Authorization` header, and sends back the answer.
 */
import { randomBytes } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import {
  type AuthMetrics,
  errorResponse,
  holdConnection,
  InvalidRequestError,
  isAuthError,
  migrate,
  PROBLEM_CONTENT_TYPE,
  type RevokeTarget,
  type Signer,
} from '@authframework/core'
import {
  createLogin,
  createRateLimiter,
  hashPassword,
  type LoginOutcome,
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
  /**
   * `POST /login`: reads the JSON `{ username, password }` body of `req` (see {@link readJsonBody})
   * and answers 200 with a token, or a problem: 400, 401 `credentials_invalid`, 413, 429, 503,
   * without a `WWW-Authenticate` challenge. Never rejects for anything the client sent. The
   * outcome is counted in `metrics` (`authframework_logins_total`). Read `clientAddress` before
   * anything awaits: a client that goes away takes the socket (and its address) with it.
   */
  login(
    req: IncomingMessage,
    clientAddress: string | undefined,
    metrics?: AuthMetrics,
  ): Promise<Answer>
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
  const client = holdConnection(await pool.connect())
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

/** Most bytes of a `POST /login` body. */
export const LOGIN_MAX_BYTES = 16_384

/**
 * Most bytes of an oversized body read (and dropped) before answering 413, so that the client,
 * still sending, reads the answer instead of a reset connection. Past it the answer goes at once.
 */
const DRAIN_MAX_BYTES = 1_048_576

/** A problem answer; `close` ends the connection (the body was not read to its end). */
function problem(
  status: number,
  code: string,
  title: string,
  detail: string,
  close = false,
): Answer {
  const body = JSON.stringify({
    type: `urn:authframework:error:${code}`,
    title,
    status,
    detail,
    code,
  })
  const headers: Record<string, string> = {
    'content-type': PROBLEM_CONTENT_TYPE,
    'content-length': String(Buffer.byteLength(body)),
    'cache-control': 'no-store',
  }
  if (close) headers.connection = 'close'
  return { status, headers, body }
}

function badRequest(detail: string, close = false): Answer {
  const answer = loginErrorResponse(new InvalidRequestError(detail))!
  return close ? { ...answer, headers: { ...answer.headers, connection: 'close' } } : answer
}

function tooLarge(maxBytes: number, close: boolean): Answer {
  return problem(
    413,
    'payload_too_large',
    'Payload too large',
    `The body is larger than ${maxBytes} bytes.`,
    close,
  )
}

/** `application/json`, with no charset or `utf-8`. */
function isJsonContentType(header: string | undefined): boolean {
  if (header === undefined) return false
  const [type = '', ...params] = header.split(';')
  if (type.trim().toLowerCase() !== 'application/json') return false
  return params.every((param) => {
    const [name = '', value = ''] = param.split('=')
    if (name.trim().toLowerCase() !== 'charset') return true
    return /^"?utf-8"?$/i.test(value.trim())
  })
}

/** What {@link readJsonBody} answers: the parsed value, or the problem to send instead. */
export type JsonBody =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly answer: Answer }

/**
 * Reads a JSON body of at most `maxBytes` from the raw request, without ever destroying it (so
 * the answer can still be sent): `Content-Type: application/json` (UTF-8) and no
 * `Content-Encoding`, else 400; a declared or actual size over `maxBytes`, 413; bytes that are
 * not UTF-8 or not JSON, 400. Every refusal is an `application/problem+json` answer; one sent
 * before the body was read to its end closes the connection.
 *
 * @example
 * const body = await readJsonBody(req)
 * if (!body.ok) return send(res, body.answer)
 */
export function readJsonBody(req: IncomingMessage, maxBytes = LOGIN_MAX_BYTES): Promise<JsonBody> {
  const headers = req.headers
  if (!isJsonContentType(headers['content-type'])) {
    return Promise.resolve({
      ok: false,
      answer: badRequest('Send Content-Type: application/json (UTF-8).', true),
    })
  }
  const encoding = headers['content-encoding']
  if (encoding !== undefined && encoding.trim().toLowerCase() !== 'identity') {
    return Promise.resolve({
      ok: false,
      answer: badRequest('Send the body without Content-Encoding.', true),
    })
  }
  const declared = Number(headers['content-length'])
  if (Number.isFinite(declared) && declared > Math.max(maxBytes, DRAIN_MAX_BYTES)) {
    return Promise.resolve({ ok: false, answer: tooLarge(maxBytes, true) })
  }
  return new Promise<JsonBody>((resolve) => {
    const chunks: Buffer[] = []
    let size = 0
    const finish = (result: JsonBody) => {
      req.off('data', onData)
      req.off('end', onEnd)
      req.off('error', onError)
      req.off('aborted', onError)
      resolve(result)
    }
    const onData = (chunk: Buffer) => {
      size += chunk.length
      if (size <= maxBytes) chunks.push(chunk)
      else if (size > DRAIN_MAX_BYTES) finish({ ok: false, answer: tooLarge(maxBytes, true) })
      else chunks.length = 0 // dropped; read on to the end (or to DRAIN_MAX_BYTES)
    }
    const onEnd = () => {
      if (size > maxBytes) return finish({ ok: false, answer: tooLarge(maxBytes, false) })
      let value: unknown
      try {
        const text = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks))
        value = JSON.parse(text)
      } catch {
        return finish({ ok: false, answer: badRequest('The body is not UTF-8 JSON.') })
      }
      finish({ ok: true, value })
    }
    const onError = () => finish({ ok: false, answer: badRequest('The body was cut off.', true) })
    req.on('data', onData)
    req.on('end', onEnd)
    req.on('error', onError)
    req.on('aborted', onError)
  })
}

/**
 * The problem+json answer to an error a framework raised before or around a handler: a body it
 * refused (`status` or `statusCode` 413: 413; another 4xx: 400 `invalid_request`), an `AuthError`
 * (its own answer), anything else 500 with a fixed text: never HTML, never a stack trace.
 *
 * @example
 * app.use((err, _req, res, _next) => send(res, errorAnswer(err)))
 */
export function errorAnswer(error: unknown): Answer {
  if (isAuthError(error)) return errorResponse(error)
  const { status, statusCode } = (error ?? {}) as { status?: unknown; statusCode?: unknown }
  const code = typeof status === 'number' ? status : statusCode
  if (code === 413) return tooLarge(LOGIN_MAX_BYTES, true)
  if (typeof code === 'number' && code >= 400 && code < 500) {
    return badRequest('The request body could not be read.', true)
  }
  return problem(500, 'internal_error', 'Internal error', 'The request failed.')
}

function failure(error: unknown): Answer {
  const answer = loginErrorResponse(error)
  if (answer === undefined) throw error
  return answer
}

/** The `code` of a problem answer, or `ok`. */
function outcomeOf(answer: Answer): LoginOutcome {
  if (answer.status < 300) return 'ok'
  try {
    return (JSON.parse(answer.body) as { code: LoginOutcome }).code
  } catch {
    return 'invalid_request'
  }
}

/**
 * The login and logout handlers.
 *
 * @example
 * const service = createLoginService({ signer, users: createMemoryUsers(demoUser()) })
 * const answer = await service.login(req, req.ip, metrics)
 * res.writeHead(answer.status, answer.headers).end(answer.body)
 */
export function createLoginService(options: LoginServiceOptions): LoginService {
  const ttlSeconds = options.ttlSeconds ?? 900
  const limiter = options.limiter ?? createRateLimiter()
  const users = options.users
  const source = 'pool' in users ? 'postgres' : 'memory'
  // Options checked and the dummy hash started now, so the first login does not pay for it.
  const logins = createLogin(
    'pool' in users ? { pool: users.pool, limiter } : { lookup: users, limiter },
  )

  async function login(req: IncomingMessage, clientAddress: string | undefined): Promise<Answer> {
    const body = await readJsonBody(req)
    if (!body.ok) return body.answer
    const { value } = body
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      return badRequest('Send a JSON object { "username": ..., "password": ... }.')
    }
    const { username, password } = value as { username?: unknown; password?: unknown }
    if (typeof username !== 'string' || typeof password !== 'string') {
      return badRequest('Send a JSON body { "username": ..., "password": ... } of two strings.')
    }
    try {
      const user = await logins.authenticate({ username, password, clientAddress })
      const token = {
        access_token: options.signer.sign(user.claims, { ttlSeconds }),
        token_type: 'Bearer',
        expires_in: ttlSeconds,
      }
      return { status: 200, headers: JSON_HEADERS, body: JSON.stringify(token) }
    } catch (error) {
      return failure(error)
    }
  }

  return {
    source,
    async login(req, clientAddress, metrics) {
      const answer = await login(req, clientAddress)
      metrics?.login?.(outcomeOf(answer))
      return answer
    },
    async logout(auth, authorization) {
      const header = Array.isArray(authorization) ? authorization[0] : authorization
      const token = /^Bearer +(\S+)$/i.exec(header ?? '')?.[1]
      if (token === undefined) {
        // a bearer-token endpoint: its errors carry the Bearer challenge
        return errorResponse(
          new InvalidRequestError('POST /logout needs the bearer token to revoke.'),
        )
      }
      await auth.revoke({ token })
      return { status: 204, headers: { 'cache-control': 'no-store' }, body: '' }
    },
  }
}

/**
 * Reads a JSON body of at most `maxBytes`; `undefined` when it is not one (use
 * {@link readJsonBody} to answer why).
 */
export async function readJson(req: IncomingMessage, maxBytes = 16_384): Promise<unknown> {
  const body = await readJsonBody(req, maxBytes)
  return body.ok ? body.value : undefined
}
