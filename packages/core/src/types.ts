/** What a verified request carries: `req.auth`, `ctx.state.auth`, `request.auth`. Deeply frozen. */
/**
 * The claims your tokens carry, declared once for the whole app by declaration merging (like
 * @fastify/jwt's `FastifyJWT`): `req.auth.claims`, `ctx.state.auth.claims` and
 * `request.auth.claims` then have these types. Nothing is checked at run time: declare what your
 * issuer puts in every token, and mark optional what some credentials (sessions, Basic) lack.
 *
 * @example
 * declare module '@authframework/core' {
 *   interface AuthClaims {
 *     email: string
 *     tenant?: string
 *   }
 * }
 */
// biome-ignore lint/suspicious/noEmptyInterface: empty until the user merges their claims into it
export interface AuthClaims {}

/** The type of `AuthContext['claims']`: every claim, with the declared ones typed. */
export type ClaimsOf<Claims extends object> = keyof Claims extends never
  ? Readonly<Record<string, unknown>>
  : Readonly<Record<string, unknown> & Claims>

/**
 * The verified caller. `Claims` defaults to {@link AuthClaims} (declare your claims there once);
 * `AuthContext<MyClaims>` types one place only.
 */
export interface AuthContext<Claims extends object = AuthClaims> {
  /** The token's `sub` claim (or the store's user id). */
  readonly sub: string
  /**
   * Every claim of the token, deeply frozen. With `issuers`, `claims.iss` is the issuer that
   * verified the token, equal to its entry's `issuer` exactly.
   */
  readonly claims: ClaimsOf<Claims>
  /** Granted permissions: from the token's claim, the permission store, or both. */
  readonly permissions: readonly string[]
  /** Roles, when a permission store supplies them. */
  readonly roles?: readonly string[]
  /** `exp` in seconds since the epoch, when the token has one. */
  readonly expiresAt?: number
}

/** Milliseconds since the epoch; injectable so tests can freeze time. */
export type Clock = () => number

/** One user's permissions as a store knows them. `null` from a lookup: unknown or inactive. */
export interface PermissionRecord {
  readonly permissions: readonly string[]
  readonly roles?: readonly string[]
}

/**
 * Where permissions come from when they are not (only) in the token. Memory, Redis and PostgreSQL
 * stores implement it; so can any object with a `lookup`. A lookup that cannot reach its backing
 * service must reject (the request then fails closed with 503 `auth_unavailable`); it resolves
 * `null` for an unknown or inactive user (401 `user_inactive`).
 */
export interface PermissionSource {
  lookup(subject: string): Promise<PermissionRecord | null>
  /**
   * Optional: what `lookup` answers, returned as is (no promise) when the source holds it in memory,
   * else `lookup`'s promise; it fails as `lookup` does. The authentication pipeline calls it instead
   * of `lookup` when present, so that a request whose token and permissions are both cached stays
   * synchronous. `createPermissionStore` has it (its memory layer answers a hit at once).
   *
   * @example
   * const answer = store.lookupMaybeSync ? store.lookupMaybeSync(id) : store.lookup(id)
   * const record = isPromise(answer) ? await answer : answer // no await on a memory hit
   */
  lookupMaybeSync?(subject: string): PermissionRecord | null | Promise<PermissionRecord | null>
}

/**
 * What a framework adapter hands to the core (built by `requestInput`): the credential headers,
 * and what a credential handler may need besides. Everything but the credential headers is read
 * from the request only when asked for.
 */
export interface RequestInput {
  /** Every `Authorization` header value in the request (more than one is a 400). */
  readonly authorization: readonly string[] | string | undefined
  /** The raw `Cookie` header, when a cookie credential is configured. */
  readonly cookie?: string | readonly string[] | undefined
  /** The framework's request, passed to a custom `getToken` and to predicates. */
  readonly request?: unknown
  /** The peer address, for security logs. */
  readonly clientAddress?: string | undefined
  /** The request method (`GET`). */
  readonly method?: string | undefined
  /** The request target as the client sent it (`/orders?page=2`). */
  readonly url?: string | undefined
  /** The path of `url`, without the query. */
  readonly path?: string | undefined
  /**
   * The request's origin as this server received it (`https://api.example`): the connection's
   * scheme (TLS or not) and the `Host` header. For DPoP's `htu` check; see `dpop.origin`.
   */
  readonly origin?: string | undefined
  /** Every request header, by lower-case name, for handlers that read more than the credential. */
  readonly headers?: Readonly<Record<string, string | string[] | undefined>> | undefined
  /**
   * The DER of the client certificate of the request's TLS connection, when it presented one: for
   * certificate-bound tokens (RFC 8705), read only for a token that is bound to one. The same
   * buffer on every request of a connection; not to be modified.
   */
  readonly clientCertificate?: Uint8Array | undefined
}

/**
 * What revocation keys on: what cannot be varied by re-encoding a token. Never the raw token.
 */
export interface RevocationSubject {
  /**
   * SHA-256 (base64url) of what the token's signature covers: the JWS Signing Input
   * (`header.payload`) of the canonical compact JWT, after `compressed:` decoding and the strict
   * check; for an introspected opaque token, of the token itself. Every valid signature of one
   * token has the same hash.
   */
  readonly tokenHash: string
  readonly jti: string | undefined
  readonly sub: string
  /** `iat` in seconds, when the token has one (a token without it counts as issued at −∞). */
  readonly iat: number | undefined
}

/** One revocation: a token (by the hash of what its signature covers), a `jti`, or every token of a subject issued before a time. */
export type RevocationEntry =
  | {
      readonly kind: 'token'
      readonly tokenHash: string
      readonly sub?: string
      readonly expiresAt: number
    }
  | { readonly kind: 'jti'; readonly jti: string; readonly expiresAt: number }
  | {
      readonly kind: 'subject'
      readonly sub: string
      readonly before: number
      readonly expiresAt: number
    }

/**
 * Where revocations are kept and checked. The embedded default keeps them in memory; a distributed
 * list shares them through Redis and PostgreSQL. `isRevoked` is synchronous for local checks; it may
 * return a promise (a strict mode that asks Redis); a rejection fails closed (503).
 */
export interface RevocationList {
  isRevoked(subject: RevocationSubject): boolean | Promise<boolean>
  revoke(entry: RevocationEntry): Promise<void>
  close?(): Promise<void>
}

/** A server-side session as a session store knows it. */
export interface SessionRecord {
  readonly userId: string
  /** Milliseconds since the epoch. */
  readonly expiresAt: number
  /** Permissions, when the session store keeps them. */
  readonly permissions?: readonly string[]
  /** `false`: the session is live but its user has been deactivated (401 `user_inactive`). */
  readonly userActive?: boolean
}

/** Reads sessions for the session-cookie credential. `null`: unknown, expired or destroyed. */
export interface SessionSource {
  get(id: string): Promise<SessionRecord | null>
  /** Called after each authenticated request; the store decides how often to write. */
  touch?(id: string): void | Promise<void>
}

/**
 * Checks opaque (non-JWT) access tokens with the authorization server (RFC 7662). Resolves the
 * claims of an active token (`sub`, `exp`, `scope`, `aud`, ...), `null` for an inactive one;
 * rejects when the server cannot answer (the request then fails closed with 503).
 */
export interface TokenIntrospector {
  introspect(token: string): Promise<Readonly<Record<string, unknown>> | null>
  /** Forgets a cached answer (in every layer); `auth.revoke({ token })` calls it for opaque tokens. */
  evict?(token: string): Promise<void>
  close?(): Promise<void>
}
