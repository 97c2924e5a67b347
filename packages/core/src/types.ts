/** What a verified request carries: `req.auth`, `ctx.state.auth`, `request.auth`. Deeply frozen. */
export interface AuthContext {
  /** The token's `sub` claim (or the store's user id). */
  readonly sub: string
  /** Every claim of the token, deeply frozen. */
  readonly claims: Readonly<Record<string, unknown>>
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
}

/** What a framework adapter hands to the core: header values, never the framework object itself. */
export interface RequestInput {
  /** Every `Authorization` header value in the request (more than one is a 400). */
  readonly authorization: readonly string[] | string | undefined
  /** The raw `Cookie` header, when a cookie credential is configured. */
  readonly cookie?: string | readonly string[] | undefined
  /** The framework's request, passed to a custom `getToken` and to predicates. */
  readonly request?: unknown
}
