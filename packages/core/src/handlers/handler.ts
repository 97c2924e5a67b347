/**
 * Credentials and the handlers that turn them into a caller's context.
 *
 * Extraction (`extract/credentials.ts`) finds the one credential of a request and tags it with its
 * `kind`; the composer (`authenticate.ts`) hands it to the handler registered for that kind. A
 * handler checks the credential and resolves the caller's permissions; the composer adds only
 * what every kind shares: errors with the realm, metrics, diagnostics and the security log.
 */
import { AuthError, AuthUnavailableError } from '../errors.js'
import type { BasicCredentials } from '../extract/basic.js'
import type { AuthContext, RequestInput } from '../types.js'
import type { MaybePromise } from '../util.js'

/**
 * A bearer token: from `Authorization: Bearer` (`header`), the `cookie` option, `getToken`, or
 * given to `auth.verify` directly. JWTs and `compressed:` tokens are verified locally; other
 * tokens are introspected when an introspector is configured.
 */
export interface BearerCredential {
  readonly kind: 'bearer'
  readonly token: string
  readonly source: 'header' | 'cookie' | 'getter' | 'verify'
}

/** A server-side session id from the `sessions` cookie. */
export interface SessionCredential {
  readonly kind: 'session'
  readonly sessionId: string
}

/** Decoded `Authorization: Basic` credentials, read only when `basic` is configured. */
export interface BasicCredential {
  readonly kind: 'basic'
  readonly credentials: BasicCredentials
}

/**
 * A DPoP-bound token from `Authorization: DPoP` (RFC 9449 section 7.1), read only when `dpop` is
 * configured; its proof is the request's `DPoP` header.
 */
export interface DpopCredential {
  readonly kind: 'dpop'
  readonly token: string
}

/** The one credential of a request, tagged with its kind. */
export type Credential = BearerCredential | SessionCredential | BasicCredential | DpopCredential

export type CredentialKind = Credential['kind']

/**
 * Checks one kind of credential. Returns the caller's context (with permissions resolved), or
 * throws or rejects with an `AuthError` (anything else thrown becomes a 401 `token_invalid`; an
 * unreachable dependency should be a 503 `AuthUnavailableError`, see `unavailable`). Returns
 * synchronously when no I/O is needed: the composer keeps that path free of promises.
 *
 * How to add a credential type (as `dpop` was: `handlers/dpop.ts`, `options/dpop.ts`):
 * 1. Add its variant to `Credential` here, with a new `kind`.
 * 2. Produce it in `extractCredential` (`extract/credentials.ts`), from the headers of the
 *    `RequestInput` (which also carries the method, URL, path and every header, read lazily).
 * 3. Write the handler in its own file in this folder: a `createXHandler(deps)` factory returning
 *    a `CredentialHandler<XCredential>`, with focused tests in `test/handlers/`.
 * 4. Add its options to `AuthOptions` and `OPTION_NAMES` (`options/types.ts`), check them in
 *    `options/resolve.ts` with the validation kit, and give each a section in
 *    docs/configuration.md.
 * 5. Register the handler under its kind in the composer's table (`authenticate.ts`).
 *
 * @example
 * const handler: CredentialHandler<SessionCredential> = createSessionHandler({ store, clock, resolvePermissions })
 * const context = await handler.authenticate({ kind: 'session', sessionId }, input)
 */
export interface CredentialHandler<C extends Credential = Credential> {
  authenticate(credential: C, input: RequestInput): MaybePromise<AuthContext>
}

/** The composer's table: one handler per kind, absent for a kind that is not configured. */
export type Handlers = {
  readonly [K in CredentialKind]?: CredentialHandler<Extract<Credential, { kind: K }>> | undefined
}

/** What a handler needs to resolve permissions: the permission store, when there is one. */
export type ResolvePermissions = (context: AuthContext) => MaybePromise<AuthContext>

/**
 * A dependency's failure as a 503 that names the dependency. An `AuthError` the dependency threw
 * itself passes through; a store's own 503 gets the dependency's name if it has none.
 */
export function unavailable(
  cause: unknown,
  detail: string,
  dependency: AuthError['dependency'],
): AuthError {
  if (!(cause instanceof AuthError)) return new AuthUnavailableError(detail, { cause, dependency })
  if (cause.code === 'auth_unavailable' && cause.dependency === undefined)
    cause.dependency = dependency
  return cause
}
