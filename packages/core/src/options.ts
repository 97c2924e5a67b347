import { createIntrospector, type IntrospectorOptions } from './introspection/index.js'
import type { SecurityLogger } from './logging.js'
import { type AuthMetrics, createMetrics } from './metrics/metrics.js'
import { createMemoryRevocationList } from './revocation/memory.js'
import { type Algorithm, isAlgorithm, isHmac, SUPPORTED_ALGORITHMS } from './token/algorithms.js'
import type { ClaimRules } from './token/claims.js'
import { createRemoteKeySet, type RemoteKeySetOptions } from './token/jwks.js'
import { createStaticKeyResolver, type KeyResolver } from './token/key-resolver.js'
import {
  assertKeySet,
  type ImportedKey,
  importKeyInput,
  importPublicKey,
  importSecret,
  type KeyInput,
  type PublicKeyInput,
  type SecretInput,
  toVerifyKey,
  type VerifyKey,
} from './token/keys.js'
import { expectedTyp, type HeaderRules } from './token/verify.js'
import type {
  Clock,
  PermissionRecord,
  PermissionSource,
  RevocationList,
  SessionSource,
  TokenIntrospector,
} from './types.js'

/** Where granted permissions come from in the token. */
export type PermissionsClaim = 'perms' | 'permissions' | 'scope'

/** A user accepted by Basic credentials. */
export interface BasicUser {
  readonly sub: string
  readonly permissions?: readonly string[]
  readonly roles?: readonly string[]
}

/** Checks Basic credentials; resolves the user or `null`. Rejecting means the check is unavailable (503). */
export type BasicVerify<Req = unknown> = (
  credentials: { readonly username: string; readonly password: string },
  request: Req,
) => BasicUser | null | Promise<BasicUser | null>

/** How store permissions and token permissions combine. */
export type PermissionMerge = 'claims' | 'store' | 'union'

/**
 * Options of `createAuth` (and of every adapter's middleware or plugin).
 *
 * Exactly one key source is required: `secret`, `publicKey`, `keys` or `jwksUri`/`jwks`.
 */
export interface AuthOptions<Req = unknown> {
  /** Allowed JWS algorithms. Required unless the key makes it unambiguous (an EC or Ed25519 key, a JWK with `alg`). */
  algorithms?: readonly Algorithm[]
  /** HMAC secret for HS256/384/512; at least as long as the hash output (32, 48 or 64 bytes). */
  secret?: SecretInput
  /** A public key: PEM (SPKI or certificate), JWK or KeyObject. RSA keys need 2048 bits or more. */
  publicKey?: PublicKeyInput
  /** Several keys, for rotation. HMAC and asymmetric keys cannot be mixed. */
  keys?: readonly KeyInput[]
  /** A remote JWK Set URL. */
  jwksUri?: string
  /** Remote JWK Set options (timeouts, cooldown, size bounds). */
  jwks?: Partial<RemoteKeySetOptions>
  /** Accepted `iss` values. */
  issuer?: string | readonly string[]
  /** Accepted `aud` values; a token matches when one of its audiences is accepted. */
  audience?: string | readonly string[]
  /** Leeway for `exp`, `nbf` and `iat`. Default 0. */
  clockToleranceSeconds?: number
  /** Refuse tokens without `exp`. Default true. */
  requireExp?: boolean
  /** Refuse tokens whose `iat` is older than this. */
  maxTokenAgeSeconds?: number
  /** Claims that must be present. */
  requiredClaims?: readonly string[]
  /** Expected `typ` header (e.g. `at+jwt`). */
  typ?: string
  /** `required` (default): no token is 401. `optional`: no token is an anonymous request. */
  mode?: 'required' | 'optional'
  /** Verification cache; `false` turns it off. Default `{ max: 10_000, maxTtlSeconds: 300 }`. */
  cache?: false | { max?: number; maxTtlSeconds?: number }
  /** The claim that carries granted permissions. Default `perms`. */
  permissionsClaim?: PermissionsClaim
  /**
   * Honour wildcards (`*`, `orders:*`) in a token's permissions. Default false: a token's
   * wildcard grants nothing (it is dropped), so a token cannot claim everything, and with
   * `merge: 'union'` cannot widen what the store grants. Wildcards from a permission store, a
   * session store or `basic.verify` (your own records) always count.
   */
  tokenWildcards?: boolean
  /** A permission store (or a lookup function) and how its permissions merge with the token's. */
  permissions?: {
    store: PermissionSource | ((subject: string) => Promise<PermissionRecord | null>)
    merge?: PermissionMerge
  }
  /** The `realm` of `WWW-Authenticate` challenges. Default `api`. */
  realm?: string
  /** Also read the token from this cookie. */
  cookie?: string
  /**
   * Accept `Authorization: Basic` credentials, checked by `verify` (which resolves the user, or
   * `null` to refuse). Without this option, Basic credentials count as no credentials.
   */
  basic?: { verify: BasicVerify<Req> }
  /**
   * Where revocations are kept (`auth.revoke`). Default: in memory, for this instance only. Use a
   * distributed list when several instances must agree.
   */
  revocation?: RevocationList
  /**
   * Check opaque tokens with the authorization server (RFC 7662). JWTs are still verified locally;
   * every other bearer token is introspected. Either an introspector, or the options of
   * `createIntrospector` (`{ endpoint, clientId, clientSecret, cache, ... }`), built here with this
   * instance's `clock` and closed by `auth.close()`.
   */
  introspection?: TokenIntrospector | IntrospectorOptions
  /** Counters and latency histograms (`auth.metrics()`); share one across instances and stores, or `false`. */
  metrics?: AuthMetrics | false
  /** A pino-compatible logger for security events: failures (code, client address), revocations, faults. */
  logger?: SecurityLogger
  /** Also write security events to `audit_log` (see `createAuditSink`). */
  audit?: SecurityLogger
  /** Accept a server-side session cookie as the credential. */
  sessions?: { store: SessionSource; cookieName?: string }
  /** Also read the token with this function (it gets the framework's request). */
  getToken?: (request: Req) => string | null | undefined
  /** Longest credential accepted, checked before any work. Default 8192. */
  maxTokenBytes?: number
  /** `compressed:` tokens: the inflated size limit, or `false` to refuse them. Default `{ maxBytes: 16_384 }`. */
  compressed?: false | { maxBytes?: number }
  /** Milliseconds since the epoch; for tests. Default `Date.now`. */
  clock?: Clock
}

/** Options after validation: frozen, with every default applied. */
export interface ResolvedOptions<Req = unknown> {
  readonly headerRules: HeaderRules
  readonly claimRules: ClaimRules
  readonly resolver: KeyResolver
  readonly mode: 'required' | 'optional'
  readonly cache: { readonly max: number; readonly maxTtlSeconds: number } | undefined
  readonly permissionsClaim: PermissionsClaim
  readonly tokenWildcards: boolean
  readonly store: PermissionSource | undefined
  readonly merge: PermissionMerge
  readonly realm: string
  readonly cookie: string | undefined
  readonly getToken: ((request: Req) => string | null | undefined) | undefined
  readonly basic: BasicVerify<Req> | undefined
  readonly revocation: RevocationList
  readonly introspector: TokenIntrospector | undefined
  readonly owns: { readonly revocation: boolean; readonly introspector: boolean }
  readonly metrics: AuthMetrics | undefined
  readonly logger: SecurityLogger | undefined
  readonly sessions: { readonly store: SessionSource; readonly cookieName: string } | undefined
  readonly maxTokenBytes: number
  readonly maxCompressedBytes: number | undefined
  readonly clock: Clock
}

function fail(option: string, message: string): never {
  throw new TypeError(`createAuth: ${option}: ${message}`)
}

function positiveInteger(option: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    fail(option, 'expected a positive integer')
  }
  return value
}

function stringSet(option: string, value: string | readonly string[] | undefined) {
  if (value === undefined) return undefined
  const list = typeof value === 'string' ? [value] : value
  if (
    !Array.isArray(list) ||
    list.length === 0 ||
    list.some((v) => typeof v !== 'string' || v === '')
  ) {
    fail(option, 'expected a non-empty string or array of non-empty strings')
  }
  return new Set<string>(list)
}

// RFC 6265 cookie-name: an RFC 7230 token.
function isHttpToken(value: string): boolean {
  if (value.length === 0) return false
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i)
    if (c <= 0x20 || c >= 0x7f || '()<>@,;:\\"/[]?={}'.includes(value[i]!)) return false
  }
  return true
}

/**
 * The name of every `createAuth` option. Typed as a record of every key of AuthOptions, so adding
 * an option without listing it fails to compile; the configuration reference is checked against it.
 */
export const OPTION_NAMES: readonly (keyof AuthOptions)[] = Object.freeze(
  Object.keys({
    algorithms: true,
    secret: true,
    publicKey: true,
    keys: true,
    jwksUri: true,
    jwks: true,
    issuer: true,
    audience: true,
    clockToleranceSeconds: true,
    requireExp: true,
    maxTokenAgeSeconds: true,
    requiredClaims: true,
    typ: true,
    mode: true,
    cache: true,
    permissionsClaim: true,
    tokenWildcards: true,
    permissions: true,
    realm: true,
    cookie: true,
    getToken: true,
    basic: true,
    revocation: true,
    introspection: true,
    metrics: true,
    logger: true,
    audit: true,
    sessions: true,
    maxTokenBytes: true,
    compressed: true,
    clock: true,
  } satisfies Record<keyof AuthOptions, true>) as (keyof AuthOptions)[],
)
const KNOWN_OPTIONS = new Set<string>(OPTION_NAMES)

/** One logger from the user's logger and the audit sink, either of which may be absent. */
function fanOut(
  a: SecurityLogger | undefined,
  b: SecurityLogger | undefined,
): SecurityLogger | undefined {
  if (a === undefined || b === undefined) return a ?? b
  return {
    info: (o, m) => {
      a.info(o, m)
      b.info(o, m)
    },
    warn: (o, m) => {
      a.warn(o, m)
      b.warn(o, m)
    },
    error: (o, m) => {
      a.error(o, m)
      b.error(o, m)
    },
  }
}

let warnedNoAudience = false

/** The configured keys; `undefined` for a remote JWK Set; `null` when only opaque tokens are accepted. */
function importKeys<Req>(options: AuthOptions<Req>): ImportedKey[] | undefined | null {
  const sources = ['secret', 'publicKey', 'keys', 'jwksUri'].filter(
    (name) => options[name as keyof AuthOptions] !== undefined,
  )
  if (options.jwks?.uri !== undefined && !sources.includes('jwksUri')) sources.push('jwksUri')
  if (sources.length === 0 && options.introspection !== undefined && options.jwks === undefined) {
    return null // every token goes to the introspection endpoint; no JWT is accepted
  }
  if (sources.length !== 1) {
    fail('keys', 'give exactly one of `secret`, `publicKey`, `keys` or `jwksUri`')
  }
  if (options.jwks !== undefined && !sources.includes('jwksUri')) {
    fail('jwks', 'remote key set options need `jwksUri` (or `jwks.uri`) as the key source')
  }
  if (options.secret !== undefined) return [importSecret(options.secret, 'createAuth: secret')]
  if (options.publicKey !== undefined)
    return [importPublicKey(options.publicKey, 'createAuth: publicKey')]
  if (options.keys !== undefined) {
    if (!Array.isArray(options.keys) || options.keys.length === 0)
      fail('keys', 'expected a non-empty array')
    const keys = options.keys.map((k, i) => importKeyInput(k, `createAuth: keys[${i}]`))
    assertKeySet(keys, 'createAuth: keys')
    return keys
  }
  return undefined // remote JWK Set
}

function resolveAlgorithms<Req>(
  options: AuthOptions<Req>,
  keys: ImportedKey[] | undefined | null,
): Algorithm[] {
  if (keys === null) {
    if (options.algorithms !== undefined) fail('algorithms', 'no JWT key source is configured')
    return []
  }
  if (options.algorithms !== undefined) {
    if (!Array.isArray(options.algorithms) || options.algorithms.length === 0) {
      fail('algorithms', 'expected a non-empty array such as ["RS256"]')
    }
    for (const alg of options.algorithms) {
      if (!isAlgorithm(alg)) {
        fail(
          'algorithms',
          `${JSON.stringify(alg)} is not supported; use one of ${SUPPORTED_ALGORITHMS.join(', ')}`,
        )
      }
    }
    const hmac = options.algorithms.filter(isHmac).length
    if (hmac !== 0 && hmac !== options.algorithms.length) {
      fail('algorithms', 'HMAC (HS*) and asymmetric algorithms cannot be mixed in one instance')
    }
    return [...new Set(options.algorithms)]
  }
  const implied = new Set(
    keys?.map((k) => (k.algorithms.length === 1 ? k.algorithms[0] : undefined)),
  )
  // Ed25519 keys imply both names of the same algorithm
  const ed =
    keys !== undefined &&
    keys.length > 0 &&
    keys.every((k) => k.key.asymmetricKeyType === 'ed25519')
  if (ed) return ['EdDSA', 'Ed25519']
  if (keys === undefined || implied.size !== 1 || implied.has(undefined)) {
    fail(
      'algorithms',
      'required for RSA keys, secrets and remote key sets; e.g. algorithms: ["RS256"] or ["HS256"]',
    )
  }
  return [...implied] as Algorithm[]
}

/**
 * Validates the options once, at construction: a bad option throws a `TypeError` that names it
 * and says how to fix it. Nothing here is re-checked per request.
 */
export function resolveOptions<Req>(options: AuthOptions<Req>): ResolvedOptions<Req> {
  if (options === null || typeof options !== 'object') fail('options', 'expected an object')
  for (const name of Object.keys(options)) {
    if (!KNOWN_OPTIONS.has(name))
      fail(name, 'unknown option (a misspelt security option would be silently ignored)')
  }
  const clock = options.clock ?? Date.now
  if (typeof clock !== 'function') fail('clock', 'expected a function returning milliseconds')

  const imported = importKeys(options)
  const algorithms = resolveAlgorithms(options, imported)
  const allowed = new Set<Algorithm>(algorithms)

  let resolver: KeyResolver
  if (imported === null) {
    // introspection only: the empty allowlist refuses every JWT at the header check
    resolver = createStaticKeyResolver([])
  } else if (imported !== undefined) {
    const keys: VerifyKey[] = []
    imported.forEach((key, i) => {
      const name = options.keys ? `createAuth: keys[${i}]` : 'createAuth: key'
      const ready = toVerifyKey(key, allowed, name)
      if (ready === undefined) {
        fail(
          options.keys ? `keys[${i}]` : 'algorithms',
          `the key cannot be used with ${algorithms.join(', ')}`,
        )
      }
      keys.push(ready)
    })
    if (keys.some((k) => k.hmac) && !algorithms.every(isHmac)) {
      fail('algorithms', 'an HMAC secret only verifies HS* algorithms')
    }
    resolver = createStaticKeyResolver(keys)
  } else {
    if (algorithms.some(isHmac))
      fail('algorithms', 'a remote key set only serves asymmetric algorithms')
    const uri = options.jwksUri ?? options.jwks?.uri
    if (typeof uri !== 'string') fail('jwksUri', 'expected a URL string')
    resolver = createRemoteKeySet({ ...options.jwks, uri }, allowed, clock)
  }

  const issuer = stringSet('issuer', options.issuer)
  const audience = stringSet('audience', options.audience)
  if (audience === undefined && !warnedNoAudience) {
    warnedNoAudience = true
    process.emitWarning(
      'createAuth: no `audience` is set, so tokens issued for any audience are accepted',
      { code: 'AUTHFRAMEWORK_NO_AUDIENCE' },
    )
  }
  const tolerance = options.clockToleranceSeconds ?? 0
  if (typeof tolerance !== 'number' || !Number.isFinite(tolerance) || tolerance < 0) {
    fail('clockToleranceSeconds', 'expected a number of seconds, 0 or more')
  }
  const requiredClaims = options.requiredClaims ?? []
  if (!Array.isArray(requiredClaims) || requiredClaims.some((c) => typeof c !== 'string')) {
    fail('requiredClaims', 'expected an array of claim names')
  }
  if (options.typ !== undefined && (typeof options.typ !== 'string' || options.typ === '')) {
    fail('typ', 'expected a non-empty string such as "at+jwt"')
  }
  const mode = options.mode ?? 'required'
  if (mode !== 'required' && mode !== 'optional') fail('mode', 'expected "required" or "optional"')

  let cache: ResolvedOptions['cache']
  if (options.cache !== false) {
    const c = options.cache ?? {}
    if (typeof c !== 'object' || c === null) fail('cache', 'expected an object or false')
    cache = Object.freeze({
      max: positiveInteger('cache.max', c.max, 10_000),
      maxTtlSeconds: positiveInteger('cache.maxTtlSeconds', c.maxTtlSeconds, 300),
    })
  }

  const permissionsClaim = options.permissionsClaim ?? 'perms'
  if (!['perms', 'permissions', 'scope'].includes(permissionsClaim)) {
    fail('permissionsClaim', 'expected "perms", "permissions" or "scope"')
  }
  const tokenWildcards = options.tokenWildcards ?? false
  if (typeof tokenWildcards !== 'boolean') fail('tokenWildcards', 'expected true or false')
  let store: PermissionSource | undefined
  let merge: PermissionMerge = 'claims'
  if (options.permissions !== undefined) {
    const p = options.permissions
    const s = p?.store
    if (typeof s === 'function') store = { lookup: s }
    else if (s !== null && typeof s === 'object' && typeof s.lookup === 'function') store = s
    else fail('permissions.store', 'expected a permission store or a lookup function')
    merge = p.merge ?? 'store'
    if (!['claims', 'store', 'union'].includes(merge))
      fail('permissions.merge', 'expected "claims", "store" or "union"')
  }

  const realm = options.realm ?? 'api'
  if (typeof realm !== 'string' || realm === '') fail('realm', 'expected a non-empty string')
  if (
    options.cookie !== undefined &&
    (typeof options.cookie !== 'string' || !isHttpToken(options.cookie))
  ) {
    fail('cookie', 'expected a cookie name')
  }
  if (options.getToken !== undefined && typeof options.getToken !== 'function') {
    fail('getToken', 'expected a function (request) => string | undefined')
  }
  if (options.basic !== undefined && typeof options.basic?.verify !== 'function') {
    fail('basic', 'expected { verify: ({ username, password }, request) => user | null }')
  }
  const revocation = options.revocation ?? createMemoryRevocationList({ clock })
  if (options.requireExp !== undefined && typeof options.requireExp !== 'boolean') {
    fail('requireExp', 'expected true or false')
  }
  if (typeof revocation?.isRevoked !== 'function' || typeof revocation.revoke !== 'function') {
    fail('revocation', 'expected a revocation list ({ isRevoked, revoke })')
  }
  const introspection = options.introspection as Partial<TokenIntrospector & IntrospectorOptions>
  let introspector: TokenIntrospector | undefined
  if (typeof introspection?.introspect === 'function')
    introspector = introspection as TokenIntrospector
  else if (typeof introspection?.endpoint === 'string')
    introspector = createIntrospector({ clock, ...(introspection as IntrospectorOptions) })
  else if (introspection !== undefined)
    fail(
      'introspection',
      'expected a token introspector ({ introspect }) or { endpoint, clientId, clientSecret }',
    )
  const metrics = options.metrics === false ? undefined : (options.metrics ?? createMetrics())
  if (metrics !== undefined && typeof metrics.authenticated !== 'function') {
    fail('metrics', 'expected createMetrics() or false')
  }
  const isLogger = (l: SecurityLogger) =>
    ['info', 'warn', 'error'].every((m) => typeof l[m as 'warn'] === 'function')
  if (options.logger !== undefined && !isLogger(options.logger)) {
    fail('logger', 'expected a pino-compatible logger with info, warn and error')
  }
  if (options.audit !== undefined && !isLogger(options.audit)) {
    fail('audit', 'expected createAuditSink(...)')
  }
  const logger = fanOut(options.logger, options.audit)
  let sessions: ResolvedOptions['sessions']
  if (options.sessions !== undefined) {
    const { store: sessionStore, cookieName = 'sid' } = options.sessions
    if (typeof sessionStore?.get !== 'function')
      fail('sessions.store', 'expected a session store ({ get })')
    if (!isHttpToken(cookieName)) fail('sessions.cookieName', 'expected a cookie name')
    if (cookieName === options.cookie) fail('sessions.cookieName', 'must differ from `cookie`')
    sessions = Object.freeze({ store: sessionStore, cookieName })
  }
  let maxCompressedBytes: number | undefined
  if (options.compressed !== false) {
    maxCompressedBytes = positiveInteger(
      'compressed.maxBytes',
      options.compressed?.maxBytes,
      16_384,
    )
  }

  return Object.freeze({
    headerRules: Object.freeze({ algorithms: allowed, typ: expectedTyp(options.typ) }),
    claimRules: Object.freeze({
      issuer,
      audience,
      toleranceSeconds: tolerance,
      requireExp: options.requireExp ?? true,
      maxTokenAgeSeconds:
        options.maxTokenAgeSeconds === undefined
          ? undefined
          : positiveInteger('maxTokenAgeSeconds', options.maxTokenAgeSeconds, 0),
      requiredClaims: Object.freeze([...requiredClaims]),
    }),
    resolver,
    mode,
    cache,
    permissionsClaim,
    tokenWildcards,
    store,
    merge,
    realm,
    cookie: options.cookie,
    getToken: options.getToken,
    basic: options.basic?.verify,
    revocation,
    introspector,
    // what close() may close: only what was built here, never an object passed in (it may be shared)
    owns: Object.freeze({
      revocation: options.revocation === undefined,
      introspector: introspector !== undefined && introspector !== options.introspection,
    }),
    metrics,
    logger,
    sessions,
    maxTokenBytes: positiveInteger('maxTokenBytes', options.maxTokenBytes, 8192),
    maxCompressedBytes,
    clock,
  })
}
