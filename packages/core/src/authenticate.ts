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
  TokenInvalidError,
  UserInactiveError,
} from './errors.js'
import type { BasicCredentials } from './extract/basic.js'
import { extractCredential } from './extract/credentials.js'
import { type AuthOptions, type ResolvedOptions, resolveOptions } from './options.js'
import { compileRequirement, type Requirement } from './permissions/predicates.js'
import { toPermissionRecord } from './permissions/store/record.js'
import { checkClaims } from './token/claims.js'
import { parseCompact } from './token/compact.js'
import { COMPRESSED_PREFIX, decodeCompressed } from './token/compressed.js'
import { type VerifiedJws, verifyJws } from './token/verify.js'
import type { AuthContext, PermissionRecord, RequestInput } from './types.js'

type MaybePromise<T> = T | Promise<T>

/** A route guard: resolves (or returns) when allowed, throws an `AuthError` otherwise. */
export type Guard<Req = unknown> = (
  auth: AuthContext | undefined,
  request: Req,
) => MaybePromise<void>

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

  function finish(jws: VerifiedJws, key: string | undefined): AuthContext {
    const facts = checkClaims(jws.payload, o.claimRules, clock())
    const permissions = permissionsFromClaims(jws.payload, o.permissionsClaim)
    const context: AuthContext = Object.freeze({
      sub: facts.sub,
      claims: deepFreeze(jws.payload),
      permissions,
      expiresAt: facts.expiresAt,
    })
    if (key !== undefined) {
      cache!.set(key, { context, validUntilMs: facts.validUntilMs, validFromMs: facts.validFromMs })
    }
    return context
  }

  /** Verification proper, through the cache. Throws `AuthError`s only. */
  function verifyToken(credential: string): MaybePromise<AuthContext> {
    if (credential.length > o.maxTokenBytes) {
      throw new TokenInvalidError(`The token is longer than ${o.maxTokenBytes} bytes.`)
    }
    const key = cache === undefined ? undefined : cacheKey(credential)
    if (key !== undefined) {
      const hit = cache!.get(key)
      if (hit !== undefined) return hit.context
    }
    let jwt = credential
    if (o.maxCompressedBytes !== undefined && credential.startsWith(COMPRESSED_PREFIX)) {
      jwt = decodeCompressed(credential, o.maxCompressedBytes)
    }
    const jws = verifyJws(parseCompact(jwt), o.headerRules, o.resolver)
    return isPromise(jws) ? jws.then((v) => finish(v, key)) : finish(jws, key)
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
    return isPromise(verified) ? verified.then(resolvePermissions) : resolvePermissions(verified)
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
        const permissions = Object.freeze([...(user.permissions ?? [])])
        const context: AuthContext = Object.freeze({
          sub: user.sub,
          claims: Object.freeze({ sub: user.sub }),
          permissions,
          roles: Object.freeze([...(user.roles ?? [])]),
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
        return typeof credential === 'string'
          ? run(credential)
          : runBasic(credential, input.request)
      })
    },
    guard(...requirements) {
      return createGuard(requirements, realm)
    },
    clearCache() {
      cache?.clear()
    },
    async close() {
      cache?.clear()
      o.resolver.close?.()
    },
  }
}
