import type { IntrospectorOptions } from '../introspection/index.js'
import type { SecurityLogger } from '../logging.js'
import type { AuthMetrics } from '../metrics/metrics.js'
import type { CertificateHeaderFormat } from '../mtls/forwarded.js'
import type { Algorithm } from '../token/algorithms.js'
import type { RemoteKeySetOptions } from '../token/jwks.js'
import type { KeyInput, PublicKeyInput, SecretInput } from '../token/keys.js'
import type {
  Clock,
  PermissionRecord,
  PermissionSource,
  RevocationList,
  SessionSource,
  TokenIntrospector,
} from '../types.js'
import type { DpopOptions } from './dpop.js'

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

/** What an entry of `issuers` may set besides `issuer`: its key source, algorithms and claim rules. */
export const PER_ISSUER_OPTIONS = [
  'algorithms',
  'secret',
  'publicKey',
  'keys',
  'jwksUri',
  'jwks',
  'audience',
  'clockToleranceSeconds',
  'requireExp',
  'maxTokenAgeSeconds',
  'requiredClaims',
  'typ',
  'permissionsClaim',
] as const

/**
 * One issuer of `issuers`: its `issuer` (the exact `iss` of its tokens), its own key source
 * (`secret`, `publicKey`, `keys` or `jwksUri`/`jwks`) and `algorithms`, and its claim rules. A
 * claim rule left out here takes the top-level option's value.
 */
export interface IssuerOptions extends Pick<AuthOptions, (typeof PER_ISSUER_OPTIONS)[number]> {
  /** The issuer: a token is verified with this entry only when its `iss` equals it exactly. */
  issuer: string
}

/**
 * Finds the configuration of an issuer from a token's (not yet verified) `iss`: the entry, or
 * `undefined` for an issuer that is not accepted. Throwing or rejecting fails the request closed
 * (503). Called once per issuer and `issuerCache.ttlSeconds`, never for a cached answer.
 */
export type IssuerResolver = (
  iss: string,
) => IssuerOptions | undefined | null | Promise<IssuerOptions | undefined | null>

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
  /**
   * Several issuers (tenants) in one instance, instead of the top-level key options: a list of
   * issuers, or a resolver that finds one from a token's `iss`. A token's `iss` selects its
   * issuer; it is then verified with that issuer's keys, algorithms and claim rules alone.
   */
  issuers?: readonly IssuerOptions[] | IssuerResolver
  /**
   * The bounded cache of an `issuers` resolver's answers. Defaults: `max` 1000 issuers,
   * `ttlSeconds` 300, `negativeTtlSeconds` 60 (an unknown issuer), `maxPending` 32 resolutions in
   * flight (more are answered 503 at once).
   */
  issuerCache?: {
    max?: number
    ttlSeconds?: number
    negativeTtlSeconds?: number
    maxPending?: number
  }
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
  /**
   * DPoP sender-constrained tokens (RFC 9449): `false` (default) ignores the `DPoP` scheme;
   * `'allowed'` accepts DPoP-bound tokens with the `DPoP` scheme and a proof beside Bearer tokens;
   * `'required'` accepts DPoP-bound tokens only; or the options (algorithms, proof age, nonces,
   * the replay store, the external origin). A DPoP-bound token sent as Bearer is always refused.
   */
  dpop?: false | 'allowed' | 'required' | DpopOptions<Req>
  /**
   * Certificate-bound tokens (RFC 8705, `cnf["x5t#S256"]`) behind a TLS-terminating proxy: the
   * header the proxy sets to the client's certificate, read instead of the TLS connection's. The
   * proxy must drop that header from client requests. Without this option a bound token is checked
   * against the certificate of the request's own TLS connection.
   */
  mtls?: MtlsOptions
  /** Milliseconds since the epoch; for tests. Default `Date.now`. */
  clock?: Clock
}

/** The `mtls` option: where a TLS-terminating proxy puts the client certificate. */
export interface MtlsOptions {
  /** The header the proxy sets (`client-cert`, `x-ssl-client-cert`). */
  certificateHeader: string
  /**
   * How the proxy encodes it. Default `rfc9440` (`Client-Cert: :<base64 DER>:`); `pem`:
   * URL-encoded PEM (nginx `$ssl_client_escaped_cert`); `base64`: the base64 DER (Traefik, HAProxy).
   */
  headerFormat?: CertificateHeaderFormat
  /** Longest header value accepted, checked before decoding. Default 8192. */
  maxHeaderBytes?: number
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
    issuers: true,
    issuerCache: true,
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
    dpop: true,
    mtls: true,
    clock: true,
  } satisfies Record<keyof AuthOptions, true>) as (keyof AuthOptions)[],
)
