/**
 * The cross-adapter contract: one table of cases, run against Express 4 and 5, Koa 2 and 3,
 * Fastify 4 and 5, Hono 4 (on @hono/node-server) and NestJS 11 on platform-express and
 * platform-fastify. Every case asserts the status, the problem `code` and the exact
 * `WWW-Authenticate` header.
 */
import { deflateRawSync } from 'node:zlib'
import {
  type AuthErrorCode,
  createAuth,
  createMemoryRevocationList,
  createPermissionStore,
  ERROR_TABLE,
  memoryLayer,
  migrate,
  type PermissionStore,
  postgresSource,
  redisLayer,
} from '@authframework/core'
import {
  connectRedis,
  createTestSchema,
  deleteKeys,
  runId,
  seed,
  type TestSchema,
} from '@authframework/test-support/services'
import type { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  ADAPTERS,
  type AdapterName,
  appsPerVariant,
  baseOptions,
  FRAMEWORK_MAJORS,
  type FrameworkMajor,
  installedMajor,
  PREFLIGHT_ANSWER,
  problemBody,
  startApp,
} from './support/apps.js'
import {
  AUDIENCE,
  compress,
  NOW,
  publicPem,
  token,
  unsecured,
  withPerms,
} from './support/tokens.js'

const REALM = 'Bearer realm="api"'
const invalidToken = (description: string) =>
  `${REALM}, error="invalid_token", error_description="${description}"`
const invalidRequest = (description: string) =>
  `${REALM}, error="invalid_request", error_description="${description}"`
const insufficientScope = (scope: string) =>
  `${REALM}, error="insufficient_scope", error_description="The token does not grant the required permissions.", scope="${scope}"`

// revocation: one list shared by the apps of the 'revocation' variant, with one token revoked
const revocationList = createMemoryRevocationList({ clock: () => NOW * 1000 })
const revokedToken = token({ claims: { jti: 'revoked-1' } })
const SID = 'c2Vzc2lvbi1pZC1vZi0yNTYtYml0cy1yYW5kb20tZGF0YQ'

// the real permission store (memory → Redis → PostgreSQL), set up before the apps start
let realStore: PermissionStore | undefined
let schema: TestSchema | undefined
let redis: Redis | undefined
const redisPrefix = `aftest:${runId()}:contract:`
const storeProxy = { lookup: (sub: string) => realStore!.lookup(sub) }

// the security log of the LOGGED app, emptied by the test that reads it
const logged: Record<string, unknown>[] = []
const logger = {
  info: (object: Record<string, unknown>) => logged.push(object),
  warn: (object: Record<string, unknown>) => logged.push(object),
  error: (object: Record<string, unknown>) => logged.push(object),
}

/** Options of the app the security-log test starts: a store that fails for `user-down`. */
const LOGGED = {
  logger,
  permissions: {
    store: async (sub: string) => {
      if (sub === 'user-down') throw new Error('connect ECONNREFUSED 127.0.0.1:5432')
      return { permissions: [] }
    },
  },
}

/** Option sets the cases run under; each adapter starts one app per set. */
const VARIANTS = {
  default: {},
  optional: { mode: 'optional' },
  largeTokens: { maxTokenBytes: 32_768 },
  inactive: { permissions: { store: async () => null } },
  storeDown: {
    permissions: {
      store: async () => {
        throw new Error('connect ECONNREFUSED 127.0.0.1:5432')
      },
    },
  },
  basic: {
    basic: {
      verify: async ({ username, password }: { username: string; password: string }) =>
        username === 'alice' && password === 'pässword:1'
          ? { sub: 'alice', permissions: ['orders:read'] }
          : null,
    },
  },
  basicDown: {
    basic: {
      verify: async () => {
        throw new Error('connect ECONNREFUSED 127.0.0.1:5432')
      },
    },
  },
  revocation: { revocation: revocationList },
  tokenWildcards: { tokenWildcards: true },
  union: {
    permissions: { store: async () => ({ permissions: ['orders:read'] }), merge: 'union' },
  },
  realStore: { permissions: { store: storeProxy, merge: 'store' } },
  sessions: {
    sessions: {
      store: {
        get: async (id: string) =>
          id === SID
            ? { userId: 'user-1', expiresAt: (NOW + 60) * 1000, permissions: ['orders:read'] }
            : null,
      },
    },
  },
  store: {
    permissions: {
      store: async (sub: string) => ({
        permissions: sub === 'user-1' ? ['orders:*'] : [],
        roles: ['clerk'],
      }),
      merge: 'store',
    },
  },
} as const

interface Case {
  name: string
  variant?: keyof typeof VARIANTS
  path?: string
  method?: string
  headers?: [string, string][]
  status: number
  code?: string
  www?: string | null
  /** Extra checks on the parsed body. */
  body?: (body: Record<string, unknown>) => void
  /** Response headers that must be present with these values (the app's own handler set them). */
  responseHeaders?: Record<string, string>
  /** Extension members of the problem body (RFC 9457), beside the five every problem has. */
  members?: Record<string, unknown>
}

const BASIC = 'Basic realm="api", charset="UTF-8"'
const basicHeader = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`
const bearer = (t: string): [string, string][] => [['Authorization', `Bearer ${t}`]]
const good = token()
const [h, p, s] = good.split('.') as [string, string, string]

// a signature segment whose last character has non-zero unused bits (RS256: 342 chars, 2 spare bits)
const lastChar = s[s.length - 1]!
const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
const nonCanonical = `${h}.${p}.${s.slice(0, -1)}${alphabet[alphabet.indexOf(lastChar) | 1]}`

// the largest bomb an 8 KiB token can hold (4 MiB inflated) and the 16 MiB one (22 KB, over the cap)
const bombOf = (mib: number) =>
  `compressed:${deflateRawSync(Buffer.alloc(mib * 1024 * 1024, 0x61), { level: 9 }).toString('base64url')}`
const bomb = bombOf(4)
const bigBomb = bombOf(16)
const trailing = `compressed:${Buffer.concat([deflateRawSync(good), Buffer.from('junk')]).toString('base64url')}`
const nested = `compressed:${deflateRawSync(compress(good)).toString('base64url')}`

const CASES: Case[] = [
  // credentials
  { name: 'no credentials', status: 401, code: 'credentials_missing', www: REALM },
  {
    name: 'unsupported scheme is no credentials',
    headers: [['Authorization', 'Digest abc']],
    status: 401,
    code: 'credentials_missing',
    www: REALM,
  },
  {
    name: 'Basic when not configured is no credentials',
    headers: [['Authorization', 'Basic dXNlcjpwYXNz']],
    status: 401,
    code: 'credentials_missing',
    www: REALM,
  },
  {
    name: 'scheme without token',
    headers: [['Authorization', 'Bearer']],
    status: 400,
    code: 'invalid_request',
    www: invalidRequest('The Authorization header has no credentials after the scheme.'),
  },
  {
    name: 'two tokens',
    headers: [['Authorization', `Bearer ${good} ${good}`]],
    status: 400,
    code: 'invalid_request',
    www: invalidRequest('The Bearer credentials must be exactly one token.'),
  },
  {
    name: 'whitespace inside the token',
    headers: [['Authorization', `Bearer ${h}. ${p}.${s}`]],
    status: 400,
    code: 'invalid_request',
    www: invalidRequest('The Bearer credentials must be exactly one token.'),
  },
  {
    name: 'character outside b64token',
    headers: [['Authorization', `Bearer ${h}.${p}.${s}?`]],
    status: 400,
    code: 'invalid_request',
    www: invalidRequest('The Bearer credentials must be exactly one token.'),
  },
  {
    name: 'padding inside the token',
    headers: bearer(`${h}=.${p}.${s}`),
    status: 400,
    code: 'invalid_request',
    www: invalidRequest('The Bearer credentials must be exactly one token.'),
  },
  {
    name: 'repeated Authorization header',
    headers: [
      ['Authorization', `Bearer ${good}`],
      ['Authorization', `Bearer ${good}`],
    ],
    status: 400,
    code: 'invalid_request',
    www: invalidRequest('The Authorization header was sent more than once.'),
  },
  {
    name: 'header and cookie both carry credentials',
    headers: [...bearer(good), ['Cookie', `access_token=${good}`]],
    status: 400,
    code: 'invalid_request',
    www: invalidRequest('Credentials were sent in more than one place.'),
  },
  { name: 'lower-case scheme', headers: [['Authorization', `bearer ${good}`]], status: 200 },
  {
    name: 'token from the cookie',
    headers: [['Cookie', `theme=dark; access_token=${good}`]],
    status: 200,
  },
  {
    name: 'token over the length cap',
    headers: bearer(`${h}.${'A'.repeat(9000)}.${s}`),
    status: 401,
    code: 'token_invalid',
    www: invalidToken('The token is longer than 8192 bytes.'),
  },
  // compact form
  {
    name: 'valid token',
    headers: bearer(good),
    status: 200,
    body: (b) => expect(b.auth).toMatchObject({ sub: 'user-1', permissions: ['orders:read'] }),
  },
  {
    name: 'padding at the end',
    headers: bearer(`${good}=`),
    status: 401,
    code: 'token_invalid',
    www: invalidToken('The token is not canonical base64url.'),
  },
  {
    name: 'non-canonical last character',
    headers: bearer(nonCanonical),
    status: 401,
    code: 'token_invalid',
    www: invalidToken('The token is not canonical base64url.'),
  },
  {
    name: 'two segments',
    headers: bearer(`${h}.${p}`),
    status: 401,
    code: 'token_invalid',
    www: invalidToken('The token is not a compact JWS of three segments.'),
  },
  {
    name: 'tampered payload',
    headers: bearer(`${h}.${token({ claims: { sub: 'admin' } }).split('.')[1]}.${s}`),
    status: 401,
    code: 'token_invalid',
    www: invalidToken('The token signature is invalid.'),
  },
  // header rules
  {
    name: 'alg none',
    headers: bearer(`${unsecured()}AAAA`),
    status: 401,
    code: 'token_invalid',
    www: invalidToken('The token algorithm is not allowed.'),
  },
  {
    name: 'alg none without signature',
    headers: bearer(unsecured()),
    status: 401,
    code: 'token_invalid',
    www: invalidToken('A segment of the token is empty.'),
  },
  {
    name: 'wrongly cased alg',
    headers: bearer(token({ header: { alg: 'rs256' } })),
    status: 401,
    code: 'token_invalid',
    www: invalidToken('The token algorithm is not allowed.'),
  },
  {
    name: 'HS256 signed with the public key (key confusion)',
    headers: bearer(token({ hmacSecret: publicPem })),
    status: 401,
    code: 'token_invalid',
    www: invalidToken('The token algorithm is not allowed.'),
  },
  {
    name: 'crit header',
    headers: bearer(token({ header: { crit: ['exp'] } })),
    status: 401,
    code: 'token_invalid',
    www: invalidToken('The token has critical header parameters.'),
  },
  {
    name: 'b64 false',
    headers: bearer(token({ header: { b64: false } })),
    status: 401,
    code: 'token_invalid',
    www: invalidToken('Unencoded payloads are not accepted.'),
  },
  // claims
  {
    name: 'expired',
    headers: bearer(token({ claims: { exp: NOW - 1 } })),
    status: 401,
    code: 'token_expired',
    www: invalidToken('The token has expired.'),
  },
  {
    name: 'expires exactly now',
    headers: bearer(token({ claims: { exp: NOW } })),
    status: 401,
    code: 'token_expired',
    www: invalidToken('The token has expired.'),
  },
  {
    name: 'not yet valid (nbf)',
    headers: bearer(token({ claims: { nbf: NOW + 60 } })),
    status: 401,
    code: 'token_not_yet_valid',
    www: invalidToken('The token is not valid yet.'),
  },
  {
    name: 'no exp',
    headers: bearer(token({ claims: { exp: undefined } })),
    status: 401,
    code: 'token_invalid',
    www: invalidToken('The exp claim is missing.'),
  },
  {
    name: 'wrong audience',
    headers: bearer(token({ claims: { aud: 'billing-api' } })),
    status: 401,
    code: 'token_invalid',
    www: invalidToken('The aud claim does not match.'),
  },
  {
    name: 'audience array containing ours',
    headers: bearer(token({ claims: { aud: ['billing-api', AUDIENCE] } })),
    status: 200,
  },
  {
    name: 'wrong issuer',
    headers: bearer(token({ claims: { iss: 'https://evil.example' } })),
    status: 401,
    code: 'token_invalid',
    www: invalidToken('The iss claim does not match.'),
  },
  {
    name: 'iat in the future',
    headers: bearer(token({ claims: { iat: NOW + 3600 } })),
    status: 401,
    code: 'token_invalid',
    www: invalidToken('The iat claim is in the future.'),
  },
  {
    name: '__proto__ claim cannot pollute',
    headers: bearer(token({ claims: JSON.parse('{"__proto__":{"polluted":true}}') })),
    status: 200,
    body: () => expect(({} as Record<string, unknown>).polluted).toBeUndefined(),
  },
  // compressed
  {
    name: 'compressed token',
    headers: bearer(compress(good)),
    status: 200,
    body: (b) => expect(b.auth).toMatchObject({ sub: 'user-1' }),
  },
  {
    name: 'compressed bomb',
    headers: bearer(bomb),
    status: 401,
    code: 'token_invalid',
    www: invalidToken('The compressed token inflates beyond 16384 bytes.'),
  },
  {
    name: '16 MiB bomb is over the length cap',
    headers: bearer(bigBomb),
    status: 401,
    code: 'token_invalid',
    www: invalidToken('The token is longer than 8192 bytes.'),
  },
  {
    name: '16 MiB bomb under a raised length cap',
    variant: 'largeTokens',
    headers: bearer(bigBomb),
    status: 401,
    code: 'token_invalid',
    www: invalidToken('The compressed token inflates beyond 16384 bytes.'),
  },
  {
    name: 'compressed garbage',
    headers: bearer('compressed:AAAAAAAA'),
    status: 401,
    code: 'token_invalid',
    www: invalidToken('The compressed token is not a valid DEFLATE stream.'),
  },
  {
    name: 'compressed with trailing bytes',
    headers: bearer(trailing),
    status: 401,
    code: 'token_invalid',
    www: invalidToken('The compressed token has bytes after the DEFLATE stream.'),
  },
  {
    name: 'compressed twice (no recursion)',
    headers: bearer(nested),
    status: 401,
    code: 'token_invalid',
    www: invalidToken('The token is not a compact JWS of three segments.'),
  },
  // step-up (RFC 9470); the whole table is test/contract-stepup.int.test.ts
  {
    name: 'step-up: an acr of a weaker level',
    path: '/step-up/acr',
    headers: bearer(token({ claims: { acr: 'pwd' } })),
    status: 401,
    code: 'insufficient_user_authentication',
    www: `${REALM}, error="insufficient_user_authentication", error_description="A different authentication level is required.", acr_values="urn:example:mfa hwk"`,
    members: { acr_values: 'urn:example:mfa hwk' },
  },
  // permissions
  { name: 'permission granted', path: '/orders', headers: bearer(good), status: 200 },
  {
    name: 'permission missing',
    path: '/orders/write',
    headers: bearer(good),
    status: 403,
    code: 'permission_denied',
    www: insufficientScope('orders:write'),
  },
  {
    name: "a token's wildcard grants nothing by default",
    path: '/orders/write',
    headers: bearer(withPerms('orders:*')),
    status: 403,
    code: 'permission_denied',
    www: insufficientScope('orders:write'),
  },
  {
    name: "a token's star grants nothing by default",
    path: '/admin',
    headers: bearer(withPerms('*', 'orders:read')),
    status: 403,
    code: 'permission_denied',
    www: insufficientScope('admin orders:write invoices:write'),
  },
  {
    name: "a token's star is not among its permissions by default",
    path: '/me',
    headers: bearer(withPerms('*')),
    status: 200,
    body: (b) => expect(b.auth).toMatchObject({ permissions: [] }),
  },
  {
    name: "union: a token's star does not widen what the store grants",
    variant: 'union',
    path: '/orders/write',
    headers: bearer(withPerms('*')),
    status: 403,
    code: 'permission_denied',
    www: insufficientScope('orders:write'),
  },
  {
    name: 'tokenWildcards: wildcard grants',
    variant: 'tokenWildcards',
    path: '/orders/write',
    headers: bearer(withPerms('orders:*')),
    status: 200,
  },
  {
    name: 'tokenWildcards: star grants everything',
    variant: 'tokenWildcards',
    path: '/admin',
    headers: bearer(withPerms('*')),
    status: 200,
  },
  {
    name: 'wildcard does not grant the bare prefix',
    variant: 'tokenWildcards',
    path: '/orders',
    headers: bearer(withPerms('orders:read:*')),
    status: 403,
    code: 'permission_denied',
    www: insufficientScope('orders:read'),
  },
  { name: 'anyOf: first branch', path: '/admin', headers: bearer(withPerms('admin')), status: 200 },
  {
    name: 'anyOf: allOf branch',
    path: '/admin',
    headers: bearer(withPerms('orders:write', 'invoices:write')),
    status: 200,
  },
  {
    name: 'anyOf: half of allOf',
    path: '/admin',
    headers: bearer(withPerms('orders:write')),
    status: 403,
    code: 'permission_denied',
    www: insufficientScope('admin orders:write invoices:write'),
  },
  { name: 'not: allowed', path: '/active', headers: bearer(withPerms('orders:read')), status: 200 },
  {
    name: 'not: denied',
    path: '/active',
    headers: bearer(withPerms('orders:read', 'suspended')),
    status: 403,
    code: 'permission_denied',
    www: insufficientScope('orders:read'),
  },
  { name: 'custom predicate: owner', path: '/users/user-1', headers: bearer(good), status: 200 },
  {
    name: 'custom predicate: not the owner',
    path: '/users/user-2',
    headers: bearer(good),
    status: 403,
    code: 'permission_denied',
    www: `${REALM}, error="insufficient_scope", error_description="The token does not grant the required permissions."`,
  },
  // public routes and preflights
  { name: 'public route without token', path: '/public', status: 200 },
  {
    name: 'public route ignores a bad token',
    path: '/public',
    headers: bearer('garbage'),
    status: 200,
  },
  {
    name: 'CORS preflight is not authenticated: the app answers it',
    method: 'OPTIONS',
    headers: [
      ['Origin', 'https://app.example'],
      ['Access-Control-Request-Method', 'GET'],
    ],
    status: PREFLIGHT_ANSWER.status,
    www: null,
    responseHeaders: PREFLIGHT_ANSWER.headers,
    body: (b) => expect(b).toBe(''),
  },
  {
    name: 'a GET with Access-Control-Request-Method is no preflight: authenticated',
    headers: [['Access-Control-Request-Method', 'GET']],
    status: 401,
    code: 'credentials_missing',
    www: REALM,
  },
  {
    name: 'OPTIONS without Access-Control-Request-Method is authenticated',
    method: 'OPTIONS',
    headers: [['Origin', 'https://app.example']],
    status: 401,
    code: 'credentials_missing',
    www: REALM,
  },
  // an optional route in required mode
  {
    name: 'optional route: anonymous',
    path: '/catalog',
    status: 200,
    body: (b) => expect(b.auth).toBeNull(),
  },
  {
    name: 'optional route: valid token',
    path: '/catalog',
    headers: bearer(good),
    status: 200,
    body: (b) => expect(b.auth).toMatchObject({ sub: 'user-1' }),
  },
  {
    name: 'optional route: bad token is still 401',
    path: '/catalog',
    headers: bearer(token({ claims: { exp: NOW - 1 } })),
    status: 401,
    code: 'token_expired',
    www: invalidToken('The token has expired.'),
  },
  // optional mode
  {
    name: 'optional: anonymous',
    variant: 'optional',
    status: 200,
    body: (b) => expect(b.auth).toBeNull(),
  },
  {
    name: 'optional: valid token',
    variant: 'optional',
    headers: bearer(good),
    status: 200,
    body: (b) => expect(b.auth).toMatchObject({ sub: 'user-1' }),
  },
  {
    name: 'optional: invalid token is still 401',
    variant: 'optional',
    headers: bearer(token({ claims: { exp: NOW - 1 } })),
    status: 401,
    code: 'token_expired',
    www: invalidToken('The token has expired.'),
  },
  {
    name: 'optional: guard on anonymous is 401',
    variant: 'optional',
    path: '/orders',
    status: 401,
    code: 'credentials_missing',
    www: REALM,
  },
  // Basic credentials, where configured
  {
    name: 'basic: good credentials',
    variant: 'basic',
    path: '/orders',
    headers: [['Authorization', basicHeader('alice', 'pässword:1')]],
    status: 200,
    body: (b) => expect(b.auth).toMatchObject({ sub: 'alice', permissions: ['orders:read'] }),
  },
  {
    name: 'basic: wrong password',
    variant: 'basic',
    path: '/orders',
    headers: [['Authorization', basicHeader('alice', 'wrong')]],
    status: 401,
    code: 'credentials_invalid',
    www: BASIC,
  },
  {
    name: 'basic: unknown user takes the same answer',
    variant: 'basic',
    path: '/orders',
    headers: [['Authorization', basicHeader('mallory', 'pässword:1')]],
    status: 401,
    code: 'credentials_invalid',
    www: BASIC,
  },
  {
    name: 'basic: no colon',
    variant: 'basic',
    headers: [['Authorization', `Basic ${Buffer.from('alice').toString('base64')}`]],
    status: 400,
    code: 'invalid_request',
    www: invalidRequest('Malformed Basic credentials.'),
  },
  {
    name: 'basic: not base64',
    variant: 'basic',
    headers: [['Authorization', 'Basic a-b_c']],
    status: 400,
    code: 'invalid_request',
    www: invalidRequest('Malformed Basic credentials.'),
  },
  {
    name: 'basic: control character',
    variant: 'basic',
    headers: [['Authorization', basicHeader('alice', 'a\nb')]],
    status: 400,
    code: 'invalid_request',
    www: invalidRequest('Malformed Basic credentials.'),
  },
  {
    name: 'basic: missing credentials offer both schemes',
    variant: 'basic',
    status: 401,
    code: 'credentials_missing',
    www: `${REALM}, ${BASIC}`,
  },
  {
    name: 'basic: Bearer still works',
    variant: 'basic',
    path: '/orders',
    headers: bearer(good),
    status: 200,
  },
  {
    name: 'basic: verifier down fails closed',
    variant: 'basicDown',
    headers: [['Authorization', basicHeader('alice', 'x')]],
    status: 503,
    code: 'auth_unavailable',
    www: null,
  },
  // revocation
  {
    name: 'revoked token',
    variant: 'revocation',
    headers: bearer(revokedToken),
    status: 401,
    code: 'token_revoked',
    www: invalidToken('The token has been revoked.'),
  },
  {
    name: 'compressed form of a revoked token',
    variant: 'revocation',
    headers: bearer(compress(revokedToken)),
    status: 401,
    code: 'token_revoked',
    www: invalidToken('The token has been revoked.'),
  },
  {
    name: 'another token of the same user',
    variant: 'revocation',
    headers: bearer(good),
    status: 200,
  },
  // sessions
  {
    name: 'session cookie',
    variant: 'sessions',
    path: '/orders',
    headers: [['Cookie', `sid=${SID}`]],
    status: 200,
    body: (b) => expect(b.auth).toMatchObject({ sub: 'user-1', claims: { sid: SID } }),
  },
  {
    name: 'unknown session',
    variant: 'sessions',
    headers: [['Cookie', 'sid=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA']],
    status: 401,
    code: 'session_invalid',
    www: invalidToken('The session is unknown or has expired.'),
  },
  {
    name: 'malformed session id',
    variant: 'sessions',
    headers: [['Cookie', 'sid=../../etc']],
    status: 401,
    code: 'session_invalid',
    www: invalidToken('The session is unknown or has expired.'),
  },
  {
    name: 'session cookie and bearer token',
    variant: 'sessions',
    headers: [...bearer(good), ['Cookie', `sid=${SID}`]],
    status: 400,
    code: 'invalid_request',
    www: invalidRequest('Credentials were sent in more than one place.'),
  },
  // the real permission store: memory → Redis → PostgreSQL
  {
    name: 'real store: role grants orders:*',
    variant: 'realStore',
    path: '/orders/write',
    headers: bearer(withPerms()),
    status: 200,
    body: (b) => expect(b.auth).toMatchObject({ permissions: ['orders:*'], roles: ['clerk'] }),
  },
  {
    name: 'real store: role lacks the permission',
    variant: 'realStore',
    path: '/orders/write',
    headers: bearer(token({ claims: { sub: 'reader-1', perms: ['orders:write'] } })),
    status: 403,
    code: 'permission_denied',
    www: insufficientScope('orders:write'),
  },
  {
    name: 'real store: inactive user',
    variant: 'realStore',
    headers: bearer(token({ claims: { sub: 'inactive-1' } })),
    status: 401,
    code: 'user_inactive',
    www: invalidToken('The user is unknown or inactive.'),
  },
  {
    name: 'real store: unknown user',
    variant: 'realStore',
    headers: bearer(token({ claims: { sub: 'nobody' } })),
    status: 401,
    code: 'user_inactive',
    www: invalidToken('The user is unknown or inactive.'),
  },
  {
    name: 'real store: a wildcard id matches nobody',
    variant: 'realStore',
    headers: bearer(token({ claims: { sub: 'user-*' } })),
    status: 401,
    code: 'user_inactive',
    www: invalidToken('The user is unknown or inactive.'),
  },
  {
    name: 'real store: quotes and CR/LF in an id are data',
    variant: 'realStore',
    path: '/orders',
    headers: bearer(token({ claims: { sub: "o'brien\r\nDEL x" } })),
    status: 200,
  },
  // permission store
  {
    name: 'store: permissions from the store',
    variant: 'store',
    path: '/orders/write',
    headers: bearer(withPerms()),
    status: 200,
  },
  {
    name: 'store: store replaces token permissions',
    variant: 'store',
    path: '/admin',
    headers: bearer(token({ claims: { sub: 'user-2', perms: ['admin'] } })),
    status: 403,
    code: 'permission_denied',
    www: insufficientScope('admin orders:write invoices:write'),
  },
  {
    name: 'store: unknown or inactive user',
    variant: 'inactive',
    headers: bearer(good),
    status: 401,
    code: 'user_inactive',
    www: invalidToken('The user is unknown or inactive.'),
  },
  {
    name: 'store: down fails closed',
    variant: 'storeDown',
    headers: bearer(good),
    status: 503,
    code: 'auth_unavailable',
    www: null,
  },
]

beforeAll(async () => {
  const auth = createAuth({ ...baseOptions(), revocation: revocationList })
  await auth.revoke({ token: revokedToken })
  ;[schema, redis] = await Promise.all([createTestSchema(), connectRedis()])
  const pool = schema.pool()
  await migrate(pool)
  await seed(pool, {
    roles: { clerk: ['orders:*'], reader: ['orders:read'] },
    users: [
      { id: 'user-1', roles: ['clerk'] },
      { id: 'reader-1', roles: ['reader'] },
      { id: 'inactive-1', active: false, roles: ['clerk'] },
      { id: "o'brien\r\nDEL x", roles: ['reader'] },
    ],
  })
  realStore = createPermissionStore({
    layers: [memoryLayer(), redisLayer({ client: redis, keyPrefix: redisPrefix })],
    source: postgresSource({ pool }),
  })
  await realStore.ready()
})

afterAll(async () => {
  await realStore?.close()
  if (redis) {
    await deleteKeys(redis, redisPrefix)
    redis.disconnect()
  }
  await schema?.drop()
})

describe('framework majors', () => {
  it.each(FRAMEWORK_MAJORS)('%s is the major installed', (name) => {
    expect(installedMajor(name)).toBe(Number(name.split('@')[1]))
  })
})

describe.each(FRAMEWORK_MAJORS)('contract: %s', (adapter: FrameworkMajor) => {
  const apps = appsPerVariant(adapter, VARIANTS)

  it.each(CASES)('$name', async (c) => {
    const app = apps.get(c.variant ?? 'default')!
    const res = await app.request(c.path ?? '/me', c.headers, c.method)
    expect(res.status, res.text).toBe(c.status)
    if (c.www !== undefined) expect(res.headers['www-authenticate'] ?? null).toBe(c.www)
    if (c.code !== undefined) {
      expect(res.headers['content-type']).toBe('application/problem+json')
      // a sized body, never chunked, on every adapter
      expect(res.headers['content-length']).toBe(String(Buffer.byteLength(res.text)))
      expect(res.headers['transfer-encoding']).toBeUndefined()
      expect(res.body).toEqual(problemBody(c.code, c.status, c.members))
    }
    if (c.status === 503) expect(res.headers['retry-after']).toBe('1')
    c.body?.(res.body as Record<string, unknown>)
    if (c.responseHeaders) expect(res.headers).toMatchObject(c.responseHeaders)
    // nothing of a token ever comes back in an error
    if (c.status >= 400) {
      for (const [, v] of c.headers ?? [])
        if (v.length > 40) expect(res.text).not.toContain(v.slice(7, 40))
    }
  })
})

describe.each(ADAPTERS)('security log through %s', (adapter: AdapterName) => {
  it('names the peer address of a failure, synchronous or after a store call', async () => {
    const app = await startApp(adapter, { ...baseOptions(), ...LOGGED })
    try {
      logged.length = 0
      expect((await app.request('/me', bearer('not-a-jwt'))).status).toBe(401)
      const down = token({ claims: { sub: 'user-down' } })
      expect((await app.request('/me', bearer(down))).status).toBe(503)
      expect(logged).toEqual([
        expect.objectContaining({ code: 'token_invalid', clientAddress: '127.0.0.1' }),
        expect.objectContaining({ code: 'auth_unavailable', clientAddress: '127.0.0.1' }),
      ])
    } finally {
      await app.close()
    }
  })
})

describe('the table itself', () => {
  it('names each case once', () => {
    const names = CASES.map((c) => c.name)
    expect(names.filter((name, i) => names.indexOf(name) !== i)).toEqual([])
  })

  it('expects for each code the status of the core error table', () => {
    const mismatched = CASES.filter(
      (c) => c.code !== undefined && ERROR_TABLE[c.code as AuthErrorCode].status !== c.status,
    ).map((c) => c.name)
    expect(mismatched).toEqual([])
  })

  it('covers every code the middleware can answer (too_many_attempts belongs to the login)', () => {
    const covered = new Set(CASES.map((c) => c.code))
    // the DPoP codes have their own contract: test/contract-dpop.int.test.ts
    const elsewhere = new Set([
      'too_many_attempts',
      'dpop_proof_invalid',
      'dpop_nonce_required',
      'dpop_required',
    ])
    const codes = Object.keys(ERROR_TABLE).filter((code) => !elsewhere.has(code))
    expect(codes.filter((code) => !covered.has(code))).toEqual([])
  })

  it('signs its tokens for the issuer and audience the apps trust', () => {
    const payload = JSON.parse(Buffer.from(good.split('.')[1] ?? '', 'base64url').toString())
    const { issuer, audience } = baseOptions()
    expect({ iss: payload.iss, aud: payload.aud }).toEqual({ iss: issuer, aud: audience })
  })
})
