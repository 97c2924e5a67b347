import type { AuthError } from './errors.js'
import type { AuthMetricsSnapshot } from './metrics/metrics.js'
import type { Guard } from './permissions/guard.js'
import type { Requirement } from './permissions/predicates.js'
import type { RevokeTarget } from './revocation/entry.js'
import type { AuthContext, RequestInput } from './types.js'
import type { MaybePromise } from './util.js'

/** What `createAuth` returns; the adapters are thin layers over it. */
export interface Auth<Req = unknown> {
  /**
   * Verifies one token (a compact JWT, a `compressed:` one, or an opaque token when an
   * introspector is configured) and returns its context. Rejects with an `AuthError`.
   */
  verify(token: string): Promise<AuthContext>
  /**
   * Authenticates a request: extracts the credential, verifies it (through the cache), checks
   * revocation and resolves permissions. Returns `undefined` for an anonymous request in optional
   * mode. Synchronous when nothing needs I/O; otherwise a promise. Throws or rejects with an `AuthError`.
   * `mode` overrides the instance's mode for this request (a route that is optional).
   */
  authenticate(
    input: RequestInput,
    mode?: 'required' | 'optional',
  ): MaybePromise<AuthContext | undefined>
  /** Compiles a permission requirement once into a guard for one route. */
  guard(...requirements: Requirement<Req>[]): Guard<Req>
  /** Runs a guard for a request, with this instance's realm, clock and decision metrics. */
  authorize(guard: Guard<Req>, auth: AuthContext | undefined, request: Req): MaybePromise<void>
  /**
   * Revokes a token (every re-encoding and re-signature of it), a `jti`, or every token of a subject issued up to
   * `before` (seconds; default now): "log out everywhere". Revoked tokens get 401 `token_revoked`.
   */
  revoke(target: RevokeTarget): Promise<void>
  /** A plain snapshot of the counters and latency percentiles (empty when `metrics: false`). */
  metrics(): AuthMetricsSnapshot | undefined
  /** Turns anything thrown in the pipeline into an `AuthError` with this instance's realm. */
  toAuthError(error: unknown): AuthError
  /** `required` or `optional`. */
  readonly mode: 'required' | 'optional'
  /** Drops every cached verification. */
  clearCache(): void
  /** Releases timers and connections the instance owns. */
  close(): Promise<void>
}
