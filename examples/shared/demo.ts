/**
 * The embedded default shared by the three examples: an issuer key generated at start-up (no
 * services, no files), the auth options that trust it, a demo user for `POST /login`, and the
 * lines the demo prints. With `DATABASE_URL`, users come from the `users` table instead.
 */
import type { KeyObject } from 'node:crypto'
import { createPostgresPool, createSigner, type Signer } from '@authframework/core'
import type { RateLimiter } from '@authframework/core/login'
import type pg from 'pg'
import {
  createLoginService,
  createMemoryUsers,
  type DemoUser,
  demoUser,
  type LoginService,
  prepareDatabase,
} from './login.js'

export type { Answer, DemoUser, LoginService } from './login.js'
export { readJson } from './login.js'

export const ISSUER = 'https://issuer.example'
export const AUDIENCE = 'orders-api'
/** Lifetime of the tokens `POST /login` issues. */
export const LOGIN_TTL_SECONDS = 900

export interface Demo {
  readonly signer: Signer
  /** The options that verify the signer's tokens (spread them into createAuth or a middleware). */
  readonly authOptions: { publicKey: KeyObject; issuer: string; audience: string }
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
}

/** A fresh ES256 issuer, the options that verify its tokens, and the login service. */
export function createDemo(options: DemoOptions = {}): Demo {
  const signer = createSigner({
    algorithm: 'ES256',
    issuer: ISSUER,
    audience: AUDIENCE,
    ttlSeconds: 3600,
  })
  const user = options.user ?? demoUser()
  const login = createLoginService({
    signer,
    ttlSeconds: LOGIN_TTL_SECONDS,
    users: options.pool === undefined ? createMemoryUsers(user) : { pool: options.pool },
    limiter: options.limiter,
  })
  return {
    signer,
    authOptions: { publicKey: signer.publicKey!, issuer: ISSUER, audience: AUDIENCE },
    user,
    login,
    demoUserCanLogIn: options.pool === undefined || options.seeded !== false,
  }
}

/**
 * What an example's `index.ts` starts with: the embedded default, or with `DATABASE_URL` a
 * migrated database (the demo user is added only to an empty `users` table).
 */
export async function startDemo(
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ demo: Demo; close(): Promise<void> }> {
  const user = demoUser(env.DEMO_PASSWORD)
  if (!env.DATABASE_URL) return { demo: createDemo({ user }), close: async () => {} }
  const pool = createPostgresPool({ connectionString: env.DATABASE_URL, min: 0, max: 10 })
  const seeded = await prepareDatabase(pool, user)
  return { demo: createDemo({ user, pool, seeded }), close: () => pool.end() }
}

/** Quotes a value for a POSIX shell. */
function sh(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`
}

/** What `pnpm demo` prints: sample tokens, the demo login, and curl lines for each answer. */
export function demoBanner(demo: Demo, url: string, framework: string): string {
  const reader = demo.signer.sign({ sub: 'user-42', perms: ['orders:read'] })
  const admin = demo.signer.sign({ sub: 'admin-1', perms: ['*'] })
  const many = Array.from({ length: 60 }, (_, i) => `orders:region-${i}:read`)
  const compressed = demo.signer.sign({ sub: 'user-42', perms: ['orders:read', ...many] })
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
  curl -i -X POST -H "Authorization: Bearer ${admin}" ${url}/orders   # 201, admin has *
  curl -i -H "Authorization: Bearer ${compressed}" ${url}/orders   # 200, a compressed: token
  curl -s ${url}/.well-known/jwks.json                                      # the public keys

${login}
`
}
