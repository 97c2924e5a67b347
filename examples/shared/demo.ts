/**
 * The embedded default shared by the three examples: an issuer key generated at start-up (no
 * services, no files), the auth options that trust it, a demo user for `POST /login`, the metrics
 * served at `/metrics`, and the lines the demo prints. With `DATABASE_URL`, users come from the
 * `users` table instead; with `REDIS_URL` as well, permissions and revocations are shared through
 * Redis and PostgreSQL (see `services.ts`).
 */
import type { KeyObject } from 'node:crypto'
import type { Server } from 'node:http'
import { deflateRawSync } from 'node:zlib'
import {
  type AuthContext,
  type AuthMetrics,
  createMetrics,
  createPostgresPool,
  createSigner,
  prometheusText,
  type Signer,
  shutdown,
} from '@authframework/core'
import type { RateLimiter } from '@authframework/core/login'
import type pg from 'pg'
import {
  type Answer,
  createLoginService,
  createMemoryUsers,
  type DemoUser,
  demoUser,
  type LoginService,
  prepareDatabase,
} from './login.js'
import { connectSharedServices, type SharedAuthOptions, type SharedServices } from './services.js'

export { logSlowAuthentications } from './diagnostics.js'
export type { Answer, DemoUser, LoginService } from './login.js'
export { readJson } from './login.js'
export type { SharedAuthOptions } from './services.js'

export const ISSUER = 'https://issuer.example'
export const AUDIENCE = 'orders-api'
/** Lifetime of the tokens `POST /login` issues. */
export const LOGIN_TTL_SECONDS = 900

/** The options an example passes to `createAuth` (or to its adapter). */
export interface DemoAuthOptions extends Partial<SharedAuthOptions> {
  readonly publicKey: KeyObject
  readonly issuer: string
  readonly audience: string
  /** The object served at `/metrics`: the auth instance (and the stores) record into it. */
  readonly metrics: AuthMetrics
}

export interface Demo {
  readonly signer: Signer
  /** The options that verify the signer's tokens (spread them into createAuth or a middleware). */
  readonly authOptions: DemoAuthOptions
  /** The same object as `authOptions.metrics`; `GET /metrics` serves its Prometheus text. */
  readonly metrics: AuthMetrics
  /** The demo user (its password is printed in the banner when it can log in). */
  readonly user: DemoUser
  /** `POST /login` and `POST /logout`. */
  readonly login: LoginService
  /** False when `DATABASE_URL` pointed at a users table that already had users (no demo account). */
  readonly demoUserCanLogIn: boolean
}

export interface DemoOptions {
  /** Users from this pool's `users` table (already migrated) instead of the embedded list. */
  readonly pool?: pg.Pool
  /** Whether the demo user exists in the pool's table. Default true. */
  readonly seeded?: boolean
  readonly user?: DemoUser
  readonly limiter?: RateLimiter
  /** The issuer. Default: a fresh ES256 key (instances of one deployment share one issuer). */
  readonly signer?: Signer
  /** Default: a new `createMetrics()`. */
  readonly metrics?: AuthMetrics
  /** The permission store and the distributed revocation list (`connectSharedServices`). */
  readonly shared?: SharedAuthOptions
}

/**
 * An issuer (a fresh ES256 key unless `signer`), the options that verify its tokens, the metrics,
 * and the login service.
 */
export function createDemo(options: DemoOptions = {}): Demo {
  const signer =
    options.signer ??
    createSigner({ algorithm: 'ES256', issuer: ISSUER, audience: AUDIENCE, ttlSeconds: 3600 })
  const metrics = options.metrics ?? createMetrics()
  const user = options.user ?? demoUser()
  const login = createLoginService({
    signer,
    ttlSeconds: LOGIN_TTL_SECONDS,
    users: options.pool === undefined ? createMemoryUsers(user) : { pool: options.pool },
    limiter: options.limiter,
  })
  return {
    signer,
    authOptions: {
      publicKey: signer.publicKey!,
      issuer: ISSUER,
      audience: AUDIENCE,
      metrics,
      ...options.shared,
    },
    metrics,
    user,
    login,
    demoUserCanLogIn: options.pool === undefined || options.seeded !== false,
  }
}

export interface StartOptions {
  /** The issuer. Default: a fresh ES256 key (tests start two instances that trust one issuer). */
  readonly signer?: Signer
  /** Prefix of every Redis key and channel (with `REDIS_URL`). Default `'af:'`. */
  readonly keyPrefix?: string
}

/**
 * What an example's `index.ts` starts with:
 * - neither `DATABASE_URL` nor `REDIS_URL`: the embedded default, no services;
 * - `DATABASE_URL`: a migrated database, users from its `users` table (the demo user is added only
 *   to an empty table);
 * - both: also a permission store (memory → Redis → PostgreSQL, merged with the token's
 *   permissions), the distributed revocation list (a logout reaches every instance) and login
 *   attempts counted in Redis.
 *
 * `close()` releases everything it opened; close the auth instance first.
 *
 * @example
 * const { demo, close } = await startDemo()
 * const auth = createAuth(demo.authOptions)
 */
export async function startDemo(
  env: NodeJS.ProcessEnv = process.env,
  options: StartOptions = {},
): Promise<{ demo: Demo; close(): Promise<void> }> {
  const user = demoUser(env.DEMO_PASSWORD)
  const { signer } = options
  if (!env.DATABASE_URL) {
    if (env.REDIS_URL) {
      console.warn('REDIS_URL is used only with DATABASE_URL (revocations are recorded there).')
    }
    return { demo: createDemo({ user, signer }), close: async () => {} }
  }
  // a pg.Pool; the core types it by the calls it makes, so that pg's types stay optional
  const pool = createPostgresPool({
    connectionString: env.DATABASE_URL,
    min: 0,
    max: 10,
  }) as pg.Pool
  const metrics = createMetrics()
  // /metrics shows the pool and its query runner (breaker, wait queue, connections)
  const unwatch = metrics.watch({ postgres: pool })
  let services: SharedServices | undefined
  try {
    const seeded = await prepareDatabase(pool, user)
    if (env.REDIS_URL) {
      services = await connectSharedServices({
        redisUrl: env.REDIS_URL,
        pool,
        metrics,
        keyPrefix: options.keyPrefix,
      })
    }
    return {
      demo: createDemo({
        user,
        pool,
        seeded,
        signer,
        metrics,
        limiter: services?.limiter,
        shared: services?.authOptions,
      }),
      async close() {
        unwatch()
        await services?.close()
        await shutdown([pool])
      },
    }
  } catch (error) {
    unwatch()
    await services?.close()
    await pool.end()
    throw error
  }
}

/** `GET /catalog`: public, so anyone may browse it. */
export const CATALOG = Object.freeze([
  Object.freeze({ sku: 'tea-01', name: 'Green tea', price: 4.5 }),
  Object.freeze({ sku: 'tea-02', name: 'Black tea', price: 3.9 }),
  Object.freeze({ sku: 'cup-01', name: 'Tea cup', price: 7 }),
])

/**
 * `GET /catalog`, an optional route: the public catalog for an anonymous caller, the same items
 * addressed to the caller when a valid token came with it (a bad token is 401 before this).
 *
 * @example
 * app.get('/catalog', (req, res) => res.json(catalogFor(req.auth)))
 */
export function catalogFor(auth: AuthContext | undefined): {
  items: typeof CATALOG
  for?: string
} {
  return auth === undefined ? { items: CATALOG } : { items: CATALOG, for: auth.sub }
}

/** The exposition format Prometheus scrapes. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'

/**
 * `GET /metrics`: the Prometheus text of the metrics shared with `createAuth`.
 *
 * @example
 * app.get('/metrics', (_req, res) => send(res, metricsAnswer(demo.metrics)))
 */
export function metricsAnswer(metrics: AuthMetrics): Answer {
  return {
    status: 200,
    headers: { 'content-type': PROMETHEUS_CONTENT_TYPE, 'cache-control': 'no-store' },
    body: prometheusText(metrics),
  }
}

/** Quotes a value for a POSIX shell. */
function sh(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`
}

/** What `pnpm demo` prints: sample tokens, the demo login, and curl lines for each answer. */
export function demoBanner(demo: Demo, url: string, framework: string): string {
  const reader = demo.signer.sign({ sub: 'user-42', perms: ['orders:read'] })
  // With the permission store, a token's sub must be an active user of the users table.
  const store = demo.authOptions.permissions !== undefined
  const admin = demo.signer.sign({
    sub: store ? demo.user.id : 'admin-1',
    perms: ['admin', 'orders:read', 'orders:write'],
  })
  const many = Array.from({ length: 60 }, (_, i) => `orders:region-${i}:read`)
  // a long token stays a standard JWT; its `compressed:` form is for our own issuers only
  const long = demo.signer.sign({ sub: 'user-42', perms: ['orders:read', ...many] })
  const compressed = `compressed:${deflateRawSync(long).toString('base64url')}`
  const credentials = JSON.stringify({ username: demo.user.username, password: demo.user.password })
  const users =
    demo.login.source === 'postgres'
      ? 'the users table of DATABASE_URL (migrated at start-up)'
      : 'the embedded list (set DATABASE_URL to use PostgreSQL)'
  const login = demo.demoUserCanLogIn
    ? `Log in as ${demo.user.username} / ${demo.user.password} (users: ${users}):
  curl -i -X POST -H 'content-type: application/json' -d ${sh(credentials)} ${url}/login   # 200 { access_token, token_type, expires_in }
  TOKEN=$(curl -s -X POST -H 'content-type: application/json' -d ${sh(credentials)} ${url}/login | sed -E 's/.*"access_token":"([^"]+)".*/\\1/')
  curl -i -H "Authorization: Bearer $TOKEN" ${url}/me                    # 200, who you are
  curl -i -X POST -H "Authorization: Bearer $TOKEN" ${url}/logout        # 204, the token is revoked
  curl -i -H "Authorization: Bearer $TOKEN" ${url}/me                    # 401 token_revoked
  curl -i -X POST -H 'content-type: application/json' -d '{"username":"demo","password":"wrong"}' ${url}/login   # 401; after 5 failures in 15 min: 429 with Retry-After`
    : `Log in with a user of ${users}; the table already had users, so no demo user was added:
  curl -i -X POST -H 'content-type: application/json' -d '{"username":"...","password":"..."}' ${url}/login`
  const stranger = demo.signer.sign({ sub: 'nobody', perms: ['orders:read'] })
  const shared = store
    ? `
Shared by every instance on the same DATABASE_URL and REDIS_URL:
  - permissions: the token's perms plus the user's roles in the users table (memory, then Redis,
    then PostgreSQL); a sub that is not an active user there is refused:
  curl -i -H "Authorization: Bearer ${stranger}" ${url}/orders   # 401 user_inactive${demo.demoUserCanLogIn ? '' : `\n    (the sample tokens are for ${demo.user.id}: 401 user_inactive unless the table has that user)`}
  - revocations: a token logged out on one instance is refused by all of them;
  - failed logins, counted in Redis.
`
    : ''
  return `
AuthFramework ${framework} example listening on ${url}

Sample token (sub user-42, perms orders:read, valid 1 hour):
  ${reader}

Try it:
  curl -i ${url}/health                                                     # 200, public
  curl -i ${url}/orders                                                     # 401, no token
  curl -i -H "Authorization: Bearer ${reader}" ${url}/orders   # 200
  curl -i -X POST -H "Authorization: Bearer ${reader}" ${url}/orders   # 403, needs orders:write
  curl -i -H "Authorization: Bearer ${reader}" ${url}/users/user-42/orders   # 200, the owner
  curl -i -H "Authorization: Bearer ${reader}" ${url}/users/user-7/orders    # 403, not the owner
  curl -i -X POST -H "Authorization: Bearer ${admin}" ${url}/orders   # 201, the admin token has orders:write
  curl -i -H "Authorization: Bearer ${compressed}" ${url}/orders   # 200, a compressed: token
  curl -i ${url}/catalog                                                    # 200, optional auth: the public catalog
  curl -i -H "Authorization: Bearer ${reader}" ${url}/catalog   # 200, { items, for: "user-42" }
  curl -i -H "Authorization: Bearer not-a-token" ${url}/catalog             # 401, a bad token is refused even here
  curl -s ${url}/.well-known/jwks.json                                      # the public keys
  curl -s ${url}/metrics                                                    # Prometheus text (public in this demo only)
${shared}
${login}
`
}

/**
 * Starts listening through `listen`; when that fails (the port is taken, not allowed), prints one
 * clear line, runs `cleanup` and exits with code 1, instead of printing a banner for a server that
 * is not there.
 *
 * @example
 * await listenOrExit(() => app.listen({ port, host: '127.0.0.1' }), port, close)
 */
export async function listenOrExit(
  listen: () => Promise<unknown>,
  port: number,
  cleanup: () => Promise<unknown>,
): Promise<void> {
  try {
    await listen()
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    const reason =
      code === 'EADDRINUSE'
        ? 'the port is in use (another demo?); stop it or choose another port, e.g. PORT=3001 pnpm demo'
        : code === 'EACCES'
          ? 'permission denied; choose a port above 1023, e.g. PORT=3001 pnpm demo'
          : String((error as Error).message ?? error)
    console.error(`Cannot listen on http://127.0.0.1:${port}: ${reason}`)
    await cleanup().catch(() => {})
    process.exit(1)
  }
}

/** `listen` for {@link listenOrExit} over a Node server: resolves once listening, rejects on `error`. */
export function listenServer(server: Server, port: number): () => Promise<void> {
  return () =>
    new Promise((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject)
        resolve()
      })
    })
}

/**
 * Runs `shutdown` once on SIGINT or SIGTERM; a failure is printed and sets a non-zero exit code.
 *
 * @example
 * onSignal(async () => { await close(server); await auth.close() })
 */
export function onSignal(shutdown: () => Promise<unknown>): void {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      shutdown().catch((error: unknown) => {
        console.error(error)
        process.exitCode = 1
      })
    })
  }
}
