import type { IntrospectorOptions } from '../introspection/index.js'
import type { SecurityLogger } from '../logging.js'
import type { AuthMetrics } from '../metrics/metrics.js'
import type { ResolvedMtlsOptions } from '../mtls/client-certificate.js'
import type { ClaimRules } from '../token/claims.js'
import { expectedTyp, type HeaderRules } from '../token/verify.js'
import type {
  Clock,
  PermissionSource,
  RevocationList,
  SessionSource,
  TokenIntrospector,
} from '../types.js'
import { closestName, createValidator, type Validator } from '../validate.js'
import { type ResolvedDpop, resolveDpop } from './dpop.js'
import { checkIssuers } from './issuers.js'
import { type CheckedKeys, checkKeys, type KeySource } from './keys.js'
import { mtlsOptions } from './mtls.js'
import {
  type AuthOptions,
  type BasicVerify,
  OPTION_NAMES,
  type PermissionMerge,
  type PermissionsClaim,
} from './types.js'

/**
 * Options after validation: frozen, with every default applied. Nothing here is built: the key
 * set, the introspector, the revocation list and the metrics are opened by the composer.
 */
export interface ResolvedOptions<Req = unknown> {
  readonly headerRules: HeaderRules
  readonly claimRules: ClaimRules
  readonly keys: KeySource
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
  /** A list passed in (the composer makes the in-memory default). */
  readonly revocation: RevocationList | undefined
  /** An introspector passed in, or the options to build one with. */
  readonly introspection: TokenIntrospector | IntrospectorOptions | undefined
  /** `false`: off; `undefined`: the composer makes one. */
  readonly metrics: AuthMetrics | false | undefined
  readonly logger: SecurityLogger | undefined
  readonly audit: SecurityLogger | undefined
  readonly sessions: { readonly store: SessionSource; readonly cookieName: string } | undefined
  readonly maxTokenBytes: number
  readonly maxCompressedBytes: number | undefined
  /** DPoP, when accepted. */
  readonly dpop: ResolvedDpop<Req> | undefined
  /** The proxy's certificate header; `undefined`: the TLS connection's certificate. */
  readonly mtls: ResolvedMtlsOptions | undefined
  readonly clock: Clock
}

const v: Validator = createValidator('createAuth')
let warnedNoAudience = false
/** The top-level keys with `issuers`: none (each issuer has its own). */
const NO_KEYS: CheckedKeys = { source: { keys: [] }, algorithms: new Set() }

/** True for an introspector ({ introspect }), as opposed to the options to build one. */
export function isIntrospector(value: unknown): value is TokenIntrospector {
  return typeof (value as TokenIntrospector | undefined)?.introspect === 'function'
}

/**
 * An options object whose every name is known: a misspelt security option would be silently
 * ignored. `v` names the object (`options`, or `issuers[0]` with its prefix).
 */
export function checkNames(
  options: object,
  known: readonly string[],
  v: Validator,
  example: string,
): void {
  if (options === null || typeof options !== 'object') v.fail('options', 'be an object', example)
  for (const name of Object.keys(options)) {
    if (known.includes(name)) continue
    const hint = closestName(name, known)
    v.fail(
      name,
      'be a known option (a misspelt security option would be silently ignored)',
      hint ?? 'one of the options in docs/configuration.md',
    )
  }
}

/** The claim options `claimRules` reads: the top-level ones, or one entry of `issuers`. */
type ClaimOptions = Pick<
  AuthOptions,
  'audience' | 'requiredClaims' | 'clockToleranceSeconds' | 'requireExp' | 'maxTokenAgeSeconds'
> & { readonly issuer?: unknown }

/**
 * The claim rules of the top-level options or of one issuer (`v` carries the entry's prefix).
 * `warn`: say once per process that no `audience` is set.
 */
export function claimRules(options: ClaimOptions, v: Validator, warn = true): ClaimRules {
  const audience = v.stringSet('audience', options.audience, "'orders-api'")
  if (audience === undefined && warn && !warnedNoAudience) {
    warnedNoAudience = true
    process.emitWarning(
      'createAuth: no `audience` is set, so tokens issued for any audience are accepted',
      { code: 'AUTHFRAMEWORK_NO_AUDIENCE' },
    )
  }
  const requiredClaims = options.requiredClaims ?? []
  if (!Array.isArray(requiredClaims) || requiredClaims.some((c) => typeof c !== 'string')) {
    v.fail('requiredClaims', 'be an array of claim names', "['jti']")
  }
  return Object.freeze({
    issuer: v.stringSet('issuer', options.issuer, "'https://issuer.example'"),
    audience,
    toleranceSeconds: v.nonNegative('clockToleranceSeconds', options.clockToleranceSeconds, 0, '5'),
    requireExp: v.boolean('requireExp', options.requireExp, true),
    maxTokenAgeSeconds:
      options.maxTokenAgeSeconds === undefined
        ? undefined
        : v.positiveInteger('maxTokenAgeSeconds', options.maxTokenAgeSeconds, 0, '3600'),
    requiredClaims: Object.freeze([...requiredClaims]),
  })
}

/** The claim that carries a token's permissions. */
export function permissionsClaimOf(value: unknown, v: Validator): PermissionsClaim {
  return v.oneOf('permissionsClaim', value, ['perms', 'permissions', 'scope'], 'perms')
}

function permissionSource<Req>(options: AuthOptions<Req>): {
  store: PermissionSource | undefined
  merge: PermissionMerge
} {
  if (options.permissions === undefined) return { store: undefined, merge: 'claims' }
  const s = options.permissions?.store
  let store: PermissionSource
  if (typeof s === 'function') store = { lookup: s }
  else if (s !== null && typeof s === 'object' && typeof s.lookup === 'function') store = s
  else
    v.fail(
      'permissions.store',
      'be a permission store or a lookup function',
      'createPermissionStore(...)',
    )
  const merge = v.oneOf(
    'permissions.merge',
    options.permissions.merge,
    ['store', 'claims', 'union'],
    'store',
  )
  return { store, merge }
}

function isLogger(l: SecurityLogger | undefined): boolean {
  return ['info', 'warn', 'error'].every((m) => typeof l?.[m as 'warn'] === 'function')
}

/** The collaborators passed in, checked by shape (the composer builds the defaults). */
function collaborators<Req>(options: AuthOptions<Req>) {
  const { revocation, introspection, metrics, logger, audit } = options
  if (
    revocation != null &&
    (typeof revocation?.isRevoked !== 'function' || typeof revocation.revoke !== 'function')
  ) {
    v.fail(
      'revocation',
      'be a revocation list ({ isRevoked, revoke })',
      'createDistributedRevocationList(...)',
    )
  }
  if (
    introspection !== undefined &&
    !isIntrospector(introspection) &&
    typeof (introspection as Partial<IntrospectorOptions> | null)?.endpoint !== 'string'
  ) {
    v.fail(
      'introspection',
      'be a token introspector ({ introspect }) or { endpoint, clientId, clientSecret }',
      "{ endpoint: 'https://as.example/introspect', clientId, clientSecret }",
    )
  }
  if (metrics != null && metrics !== false && typeof metrics.authenticated !== 'function') {
    v.fail('metrics', 'be createMetrics() or false', 'createMetrics()')
  }
  if (logger !== undefined && !isLogger(logger)) {
    v.fail('logger', 'be a pino-compatible logger with info, warn and error', 'pino()')
  }
  if (audit !== undefined && !isLogger(audit))
    v.fail('audit', 'be an audit sink', 'createAuditSink(...)')
  return { revocation, introspection, metrics, logger, audit }
}

function sessionOptions<Req>(options: AuthOptions<Req>): ResolvedOptions['sessions'] {
  if (options.sessions === undefined) return undefined
  const { store, cookieName = 'sid' } = options.sessions
  if (typeof store?.get !== 'function') {
    v.fail('sessions.store', 'be a session store ({ get })', 'createSessionStore(...)')
  }
  v.cookieName('sessions.cookieName', cookieName)
  if (cookieName === options.cookie) {
    v.fail('sessions.cookieName', 'differ from `cookie`', "'sid'")
  }
  return Object.freeze({ store, cookieName })
}

/**
 * Validates the options once, at construction: a bad option throws a `TypeError` that names it
 * and says how to fix it. Nothing here is re-checked per request, and nothing is opened.
 */
export function resolveOptions<Req>(options: AuthOptions<Req>): ResolvedOptions<Req> {
  checkNames(options, OPTION_NAMES, v, "{ algorithms: ['RS256'], publicKey: pem }")
  const clock = v.func('clock', options.clock, '() => Date.now()') ?? Date.now
  const issuers = options.issuers === undefined ? undefined : checkIssuers(options, v)
  const keys = issuers === undefined ? checkKeys(options, v) : NO_KEYS
  const typ = v.string('typ', options.typ, "'at+jwt'")
  let cache: ResolvedOptions['cache']
  if (options.cache !== false) {
    const c = options.cache ?? {}
    if (typeof c !== 'object' || c === null)
      v.fail('cache', 'be an object or false', '{ max: 10000 }')
    cache = Object.freeze({
      max: v.positiveInteger('cache.max', c.max, 10_000),
      maxTtlSeconds: v.positiveInteger('cache.maxTtlSeconds', c.maxTtlSeconds, 300),
    })
  }
  const basic = options.basic
  if (basic !== undefined && typeof basic?.verify !== 'function') {
    v.fail('basic', 'be { verify: ({ username, password }, request) => user | null }', '{ verify }')
  }
  return Object.freeze({
    headerRules: Object.freeze({ algorithms: keys.algorithms, typ: expectedTyp(typ) }),
    claimRules: claimRules(options, v, issuers === undefined),
    keys: issuers === undefined ? keys.source : { issuers },
    mode: v.oneOf('mode', options.mode, ['required', 'optional'], 'required'),
    cache,
    permissionsClaim: permissionsClaimOf(options.permissionsClaim, v),
    tokenWildcards: v.boolean('tokenWildcards', options.tokenWildcards, false),
    ...permissionSource(options),
    realm: v.string('realm', options.realm, "'api'") ?? 'api',
    cookie: v.cookieName('cookie', options.cookie),
    getToken: v.func('getToken', options.getToken, '(request) => request.query.token'),
    basic: basic?.verify,
    ...collaborators(options),
    sessions: sessionOptions(options),
    maxTokenBytes: v.positiveInteger('maxTokenBytes', options.maxTokenBytes, 8192),
    maxCompressedBytes:
      options.compressed === false
        ? undefined
        : v.positiveInteger('compressed.maxBytes', options.compressed?.maxBytes, 16_384),
    dpop: resolveDpop(v, options.dpop),
    mtls: mtlsOptions(options.mtls, v),
    clock,
  })
}
