import type { CacheEntry } from './cache/verification-cache.js'
import {
  cacheKey,
  createVerificationCache,
  type VerificationCache,
} from './cache/verification-cache.js'
import {
  AuthError,
  AuthUnavailableError,
  CredentialsInvalidError,
  CredentialsMissingError,
  PermissionDeniedError,
  SessionInvalidError,
  TokenInvalidError,
  TokenRevokedError,
  UserInactiveError,
} from './errors.js'
import type { BasicCredentials } from './extract/basic.js'
import { extractCredential, type SessionCredential } from './extract/credentials.js'
import { type AuthOptions, type ResolvedOptions, resolveOptions } from './options.js'
import { compileRequirement, type Requirement } from './permissions/predicates.js'
import { toPermissionRecord } from './permissions/store/record.js'
import { isCanonicalBase64url } from './token/base64url.js'
import { checkClaims } from './token/claims.js'
import { parseCompact } from './token/compact.js'
import { COMPRESSED_PREFIX, decodeCompressed } from './token/compressed.js'
import { type VerifiedJws, verifyJws } from './token/verify.js'
import type { AuthContext, PermissionRecord, RequestInput, RevocationEntry } from './types.js'

type MaybePromise<T> = T | Promise<T>

/** A route guard: resolves (or returns) when allowed, throws an `AuthError` otherwise. */
export type Guard<Req = unknown> = (
  auth: AuthContext | undefined,
  request: Req,
) => MaybePromise<void>

/** What `auth.revoke` takes. Times are seconds since the epoch. */
export type RevokeTarget =
  | { readonly token: string }
  | { readonly jti: string; readonly expiresAt?: number }
  | { readonly sub: string; readonly before?: number }

/** How long a revocation without a known `exp` is remembered (a `jti`, a subject). */
const DEFAULT_REVOCATION_TTL_SECONDS = 86_400

/** What `createAuth` returns; the adapters are thin layers over it. */
export interface Auth<Req = unknown> {
  /**
   * Verifies one token (a compact JWT or a `compressed:` one) and returns its context.
   * Rejects with an `AuthError`.
   */
  verify(token: string): Promise<AuthContext>
  /**
   * Authenticates a request: extracts the credential, verifies it (through the cache) and
   * resolves permissions. Returns `undefined` for an anonymous request in optional mode.
   * Synchronous when nothing needs I/O; otherwise a promise. Throws or rejects with an `AuthError`.
   */
  authenticate(input: RequestInput): MaybePromise<AuthContext | undefined>
  /** Compiles a permission requirement once into a guard for one route. */
  guard(...requirements: Requirement<Req>[]): Guard<Req>
  /**
   * Revokes a token (every re-encoding of it), a `jti`, or every token of a subject issued up to
   * `before` (seconds; default now): "log out everywhere". Revoked tokens get 401 `token_revoked`.
   */
  revoke(target: RevokeTarget): Promise<void>
  /** Turns anything thrown in the pipeline into an `AuthError` with this instance's realm. */
  toAuthError(error: unknown): AuthError
  /** `required` or `optional`. */
  readonly mode: 'required' | 'optional'
  /** Drops every cached verification. */
  clearCache(): void
  /** Releases timers and connections the instance owns. */
  close(): Promise<void>
}

function isPromise<T>(value: MaybePromise<T>): value is Promise<T> {
  return typeof (value as Promise<T> | undefined)?.then === 'function'
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key])
  }
  return value
}

const NO_PERMISSIONS: readonly string[] = Object.freeze([])

function permissionsFromClaims(claims: Record<string, unknown>, claim: string): readonly string[] {
  const value = claims[claim]
  if (value === undefined) return NO_PERMISSIONS
  if (claim === 'scope') {
    if (typeof value !== 'string')
      throw new TokenInvalidError('The "scope" claim must be a string.')
    return Object.freeze(value.split(' ').filter((s) => s !== ''))
  }
  if (!Array.isArray(value) || value.some((p) => typeof p !== 'string')) {
    throw new TokenInvalidError(`The "${claim}" claim must be an array of strings.`)
  }
  return value as string[] // frozen with the claims
}

function sessionPermissions(value: unknown): readonly string[] {
  if (value === undefined) return NO_PERMISSIONS
  const record = toPermissionRecord({ permissions: value })
  if (record === undefined)
    throw new AuthUnavailableError('The session store answered malformed permissions.')
  return record.permissions
}

/** A compact JWT has exactly two dots; a `compressed:` token is one too. Anything else is opaque. */
function isJwtShaped(token: string): boolean {
  if (token.startsWith(COMPRESSED_PREFIX)) return true
  const first = token.indexOf('.')
  if (first === -1) return false
  const second = token.indexOf('.', first + 1)
  return second !== -1 && token.indexOf('.', second + 1) === -1
}

function union(a: readonly string[], b: readonly string[]): readonly string[] {
  if (a.length === 0) return b
  if (b.length === 0) return a
  return Object.freeze([...new Set([...a, ...b])])
}

/**
 * Compiles a requirement into a route guard (done once per route, at definition). The guard
 * returns (or resolves) when allowed; it throws 401 for an anonymous request and 403
 * `insufficient_scope` with the required `scope` when denied.
 *
 * @example
 * const guard = createGuard([anyOf('orders:read', 'admin')])
 * await guard(req.auth, req)
 */
export function createGuard<Req = unknown>(
  requirements: readonly Requirement<Req>[],
  realm?: string,
): Guard<Req> {
  const { check, scope } = compileRequirement(requirements)
  const denied = () => new PermissionDeniedError(undefined, { scope, realm })
  return (auth, request) => {
    if (auth === undefined) throw new CredentialsMissingError(undefined, { realm })
    const allowed = check(auth, request)
    if (isPromise(allowed)) {
      return allowed.then((ok) => {
        if (!ok) throw denied()
      })
    }
    if (!allowed) throw denied()
    return undefined
  }
}

/**
 * Creates an authenticator: options are checked once here (a bad option throws `TypeError`).
 *
 * @example
 * const auth = createAuth({ algorithms: ['RS256'], publicKey: pem, issuer: 'https://issuer.example', audience: 'orders-api' })
 * const ctx = await auth.verify(token) // { sub, claims, permissions, expiresAt }
 */
export function createAuth<Req = unknown>(options: AuthOptions<Req>): Auth<Req> {
  const o: ResolvedOptions<Req> = resolveOptions(options)
  const { clock, realm, store } = o
  const cache: VerificationCache | undefined = o.cache
    ? createVerificationCache({ ...o.cache, clock })
    : undefined

  function toAuthError(error: unknown): AuthError {
    const err =
      error instanceof AuthError
        ? error
        : new TokenInvalidError('The token could not be verified.', { cause: error })
    err.realm = realm
    err.basic = o.basic !== undefined
    return err
  }

  function finish(jws: VerifiedJws, key: string | undefined, tokenHash: string): CacheEntry {
    const facts = checkClaims(jws.payload, o.claimRules, clock())
    const permissions = permissionsFromClaims(jws.payload, o.permissionsClaim)
    const claims = deepFreeze(jws.payload)
    const context: AuthContext = Object.freeze({
      sub: facts.sub,
      claims,
      permissions,
      expiresAt: facts.expiresAt,
    })
    const entry: CacheEntry = {
      context,
      validUntilMs: facts.validUntilMs,
      validFromMs: facts.validFromMs,
      subject: Object.freeze({
        tokenHash,
        jti: typeof claims.jti === 'string' ? claims.jti : undefined,
        sub: facts.sub,
        iat: typeof claims.iat === 'number' ? claims.iat : undefined,
      }),
    }
    if (key !== undefined) cache!.set(key, entry)
    return entry
  }

  /** Decodes a `compressed:` credential; any other credential is the compact JWT itself. */
  function canonical(credential: string): string {
    if (o.maxCompressedBytes !== undefined && credential.startsWith(COMPRESSED_PREFIX)) {
      return decodeCompressed(credential, o.maxCompressedBytes)
    }
    return credential
  }

  /** Verification proper, through the cache. Throws `AuthError`s only. */
  function verifyToken(credential: string): MaybePromise<CacheEntry> {
    if (credential.length > o.maxTokenBytes) {
      throw new TokenInvalidError(`The token is longer than ${o.maxTokenBytes} bytes.`)
    }
    const key = cache === undefined ? undefined : cacheKey(credential)
    if (key !== undefined) {
      const hit = cache!.get(key)
      if (hit !== undefined) return hit
    }
    if (o.introspector !== undefined && !isJwtShaped(credential)) return introspect(credential, key)
    const jwt = canonical(credential)
    const parts = parseCompact(jwt)
    // for a plain token the cache key is already the hash of the canonical form
    const tokenHash = jwt === credential && key !== undefined ? key : cacheKey(jwt)
    const jws = verifyJws(parts, o.headerRules, o.resolver)
    return isPromise(jws) ? jws.then((v) => finish(v, key, tokenHash)) : finish(jws, key, tokenHash)
  }

  /** An opaque token: the authorization server decides; its answer goes through the same claim checks. */
  function introspect(token: string, key: string | undefined): Promise<CacheEntry> {
    return o.introspector!.introspect(token).then(
      (claims) => {
        if (claims === null || claims === undefined)
          throw new TokenInvalidError('The token is not active.')
        if (typeof claims !== 'object') {
          throw new AuthUnavailableError('The introspection answer is not an object.')
        }
        return finish({ header: {}, payload: { ...claims } }, key, key ?? cacheKey(token))
      },
      (cause: unknown) => {
        throw cause instanceof AuthError
          ? cause
          : new AuthUnavailableError('The token could not be introspected.', { cause })
      },
    )
  }

  function unlessRevoked(entry: CacheEntry): MaybePromise<AuthContext> {
    let revoked: boolean | Promise<boolean>
    try {
      revoked = o.revocation.isRevoked(entry.subject)
    } catch (cause) {
      throw new AuthUnavailableError('The revocation list is unavailable.', { cause })
    }
    if (!isPromise(revoked)) {
      if (revoked) throw new TokenRevokedError()
      return resolvePermissions(entry.context)
    }
    return revoked.then(
      (yes) => {
        if (yes) throw new TokenRevokedError()
        return resolvePermissions(entry.context)
      },
      (cause: unknown) => {
        throw new AuthUnavailableError('The revocation list is unavailable.', { cause })
      },
    )
  }

  /** A revocation entry for `auth.revoke`; the token is decoded but its signature is not checked. */
  function revocationEntry(target: RevokeTarget): RevocationEntry {
    const now = Math.floor(clock() / 1000)
    const fallback = now + DEFAULT_REVOCATION_TTL_SECONDS
    if ('token' in target) {
      if (typeof target.token !== 'string') throw new TypeError('revoke: token must be a string')
      // whitespace is not part of any canonical token: revoking a pasted variant revokes the original
      let compact = ''
      for (const ch of target.token)
        if (ch !== ' ' && ch !== '\t' && ch !== '\n' && ch !== '\r') compact += ch
      const jwt = canonical(compact)
      const parts = parseCompact(jwt)
      let payload: { exp?: unknown; sub?: unknown } = {}
      try {
        payload = JSON.parse(
          Buffer.from(jwt.slice(parts.dot1 + 1, parts.dot2), 'base64url').toString(),
        )
      } catch {}
      const exp =
        typeof payload?.exp === 'number' ? payload.exp + o.claimRules.toleranceSeconds : fallback
      return {
        kind: 'token',
        tokenHash: cacheKey(jwt),
        expiresAt: exp,
        ...(typeof payload?.sub === 'string' ? { sub: payload.sub } : {}),
      }
    }
    if ('jti' in target) {
      if (typeof target.jti !== 'string' || target.jti === '')
        throw new TypeError('revoke: jti must be a non-empty string')
      return { kind: 'jti', jti: target.jti, expiresAt: target.expiresAt ?? fallback }
    }
    if ('sub' in target && typeof target.sub === 'string' && target.sub !== '') {
      const before = target.before ?? now
      return {
        kind: 'subject',
        sub: target.sub,
        before,
        expiresAt: before + DEFAULT_REVOCATION_TTL_SECONDS,
      }
    }
    throw new TypeError('revoke: expected { token }, { jti } or { sub, before? }')
  }

  // Store permissions: memoised per (store record, verified context) so steady-state hits allocate nothing.
  const merged = new WeakMap<PermissionRecord, WeakMap<AuthContext, AuthContext>>()
  function withStore(context: AuthContext, record: PermissionRecord | null): AuthContext {
    if (record === null) throw new UserInactiveError()
    let byContext = typeof record === 'object' ? merged.get(record) : undefined
    let result = byContext?.get(context)
    if (result === undefined) {
      // A store is user code: anything but { permissions: string[], roles?: string[] } fails
      // closed (spreading a string would turn "orders:*" into characters, one of them "*").
      const checked = toPermissionRecord(record)
      if (checked === undefined) {
        throw new AuthUnavailableError(
          'The permission store answered something other than { permissions, roles? } or null.',
        )
      }
      const fromStore = checked.permissions
      result = Object.freeze({
        ...context,
        permissions:
          o.merge === 'union'
            ? union(context.permissions, fromStore)
            : o.merge === 'store'
              ? fromStore
              : context.permissions,
        roles: checked.roles ?? NO_PERMISSIONS,
      })
      if (byContext === undefined) {
        byContext = new WeakMap()
        merged.set(record, byContext)
      }
      byContext.set(context, result)
    }
    return result
  }

  function resolvePermissions(context: AuthContext): MaybePromise<AuthContext> {
    if (store === undefined) return context
    let pending: Promise<PermissionRecord | null>
    try {
      pending = store.lookup(context.sub)
    } catch (cause) {
      throw new AuthUnavailableError('The permission store is unavailable.', { cause })
    }
    return pending.then(
      (record) => withStore(context, record),
      (cause) => {
        throw cause instanceof AuthError
          ? cause
          : new AuthUnavailableError('The permission store is unavailable.', { cause })
      },
    )
  }

  function run(credential: string): MaybePromise<AuthContext> {
    const verified = verifyToken(credential)
    return isPromise(verified) ? verified.then(unlessRevoked) : unlessRevoked(verified)
  }

  async function runSession({ sessionId }: SessionCredential): Promise<AuthContext> {
    // ids are 256-bit random base64url; anything else cannot be a session of ours
    if (sessionId.length > 128 || !isCanonicalBase64url(sessionId, 0, sessionId.length)) {
      throw new SessionInvalidError()
    }
    const { store } = o.sessions!
    let record: Awaited<ReturnType<typeof store.get>>
    try {
      record = await store.get(sessionId)
    } catch (cause) {
      throw cause instanceof AuthError
        ? cause
        : new AuthUnavailableError('The session store is unavailable.', { cause })
    }
    if (record === null || record === undefined || !(record.expiresAt > clock())) {
      throw new SessionInvalidError()
    }
    const context: AuthContext = Object.freeze({
      sub: record.userId,
      claims: Object.freeze({ sub: record.userId, sid: sessionId }),
      permissions: sessionPermissions(record.permissions),
      expiresAt: Math.floor(record.expiresAt / 1000),
    })
    const result = await resolvePermissions(context)
    try {
      const touched = store.touch?.(sessionId)
      if (isPromise(touched)) touched.catch(() => {}) // activity tracking never fails a request
    } catch {}
    return result
  }

  function runBasic(credentials: BasicCredentials, request: unknown): Promise<AuthContext> {
    const verify = o.basic!
    return new Promise<Awaited<ReturnType<typeof verify>>>((resolve) =>
      resolve(verify(credentials, request as Req)),
    ).then(
      (user) => {
        if (user === null || user === undefined) throw new CredentialsInvalidError()
        if (typeof user.sub !== 'string' || user.sub === '') {
          throw new AuthUnavailableError('basic.verify resolved a user without a string `sub`.')
        }
        // user code: a malformed answer fails closed (a string must not become characters, one a '*')
        const record = toPermissionRecord({
          permissions: user.permissions ?? [],
          roles: user.roles ?? [],
        })
        if (record === undefined) {
          throw new AuthUnavailableError('basic.verify resolved malformed permissions or roles.')
        }
        const context: AuthContext = Object.freeze({
          sub: user.sub,
          claims: Object.freeze({ sub: user.sub }),
          permissions: record.permissions,
          roles: record.roles,
        })
        return resolvePermissions(context)
      },
      (cause: unknown) => {
        throw cause instanceof AuthError
          ? cause
          : new AuthUnavailableError('Basic credentials could not be checked.', { cause })
      },
    )
  }

  function settle<T>(work: () => MaybePromise<T>): MaybePromise<T> {
    let result: MaybePromise<T>
    try {
      result = work()
    } catch (error) {
      throw toAuthError(error)
    }
    return isPromise(result)
      ? result.catch((error: unknown) => {
          throw toAuthError(error)
        })
      : result
  }

  return {
    mode: o.mode,
    toAuthError,
    verify(token) {
      try {
        return Promise.resolve(settle(() => run(token)))
      } catch (error) {
        return Promise.reject(error)
      }
    },
    authenticate(input) {
      return settle(() => {
        const credential = extractCredential(input, o)
        if (credential === undefined) {
          if (o.mode === 'optional') return undefined
          throw new CredentialsMissingError()
        }
        if (typeof credential === 'string') return run(credential)
        return 'sessionId' in credential
          ? runSession(credential)
          : runBasic(credential, input.request)
      })
    },
    guard(...requirements) {
      return createGuard(requirements, realm)
    },
    async revoke(target) {
      const entry = revocationEntry(target)
      await o.revocation.revoke(entry)
    },
    clearCache() {
      cache?.clear()
    },
    async close() {
      cache?.clear()
      o.resolver.close?.()
      await o.revocation.close?.()
      await o.introspector?.close?.()
    },
  }
}
