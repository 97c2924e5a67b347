/**
 * The one place where the pipeline is composed: extract → decode → cache → verify → revocation →
 * permissions, with metrics, diagnostics channels and security logs around it. Every step lives in
 * its own module.
 */
import { channel } from 'node:diagnostics_channel'
import {
  cacheKey,
  createVerificationCache,
  type VerificationCache,
  VerifiedContext,
} from './cache/verification-cache.js'
import {
  AuthError,
  AuthUnavailableError,
  CredentialsInvalidError,
  CredentialsMissingError,
  SessionInvalidError,
  TokenInvalidError,
  TokenRevokedError,
  UserInactiveError,
} from './errors.js'
import { assertBearerToken, isBearerToken } from './extract/authorization.js'
import type { BasicCredentials } from './extract/basic.js'
import { extractCredential, type SessionCredential } from './extract/credentials.js'
import { createSecurityLog } from './logging.js'
import type { AuthMetricsSnapshot, Outcome } from './metrics/metrics.js'
import { type AuthOptions, type ResolvedOptions, resolveOptions } from './options.js'
import { createGuard, type Guard } from './permissions/guard.js'
import type { Requirement } from './permissions/predicates.js'
import {
  checkedPermissions,
  createPermissionResolver,
  permissionsFromClaims,
} from './permissions/resolve.js'
import { type RevokeTarget, revocationEntry } from './revocation/entry.js'
import { isCanonicalBase64url } from './token/base64url.js'
import { checkClaims } from './token/claims.js'
import { signingInput } from './token/compact.js'
import { COMPRESSED_PREFIX, decodeCompressed } from './token/compressed.js'
import { createJwsVerifier, type VerifiedJws } from './token/verify.js'
import type { AuthContext, RequestInput } from './types.js'
import { deepFreeze, isPromise, type MaybePromise } from './util.js'

/** Diagnostics channels: subscribe with `diagnostics_channel.subscribe(name, fn)` to trace. */
export const CHANNELS = {
  authenticate: 'authframework:authenticate',
  verify: 'authframework:verify',
  permissions: 'authframework:permissions',
} as const

const authenticateChannel = channel(CHANNELS.authenticate)
const verifyChannel = channel(CHANNELS.verify)
const permissionsChannel = channel(CHANNELS.permissions)

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
  /** Runs a guard for a request, with this instance's realm and decision metrics. */
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

/** A compact JWT has exactly two dots; a `compressed:` token is one too. Anything else is opaque. */
function isJwtShaped(token: string): boolean {
  if (token.startsWith(COMPRESSED_PREFIX)) return true
  const first = token.indexOf('.')
  if (first === -1) return false
  const second = token.indexOf('.', first + 1)
  return second !== -1 && token.indexOf('.', second + 1) === -1
}

function unavailable(
  cause: unknown,
  detail: string,
  dependency: AuthError['dependency'],
): AuthError {
  if (!(cause instanceof AuthError)) return new AuthUnavailableError(detail, { cause, dependency })
  // a store's own 503 names no dependency: it is the one this step called
  if (cause.code === 'auth_unavailable' && cause.dependency === undefined)
    cause.dependency = dependency
  return cause
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
  const { clock, realm, metrics } = o
  const cache: VerificationCache | undefined = o.cache
    ? createVerificationCache({ ...o.cache, clock })
    : undefined
  // a rotated key set may have dropped the key a cached verification rests on
  if (cache !== undefined) o.resolver.onKeysChanged?.(() => cache.clear())
  const log = o.logger === undefined ? undefined : createSecurityLog(o.logger, clock)
  const verifyJws = createJwsVerifier(o.headerRules, o.resolver)
  const resolvePermissions = createPermissionResolver(o.store, o.merge, (ms) => {
    metrics?.timing('permissions', ms)
    if (permissionsChannel.hasSubscribers) permissionsChannel.publish({ durationMs: ms })
  })

  function toAuthError(error: unknown): AuthError {
    const err =
      error instanceof AuthError
        ? error
        : new TokenInvalidError('The token could not be verified.', { cause: error })
    err.realm = realm
    err.basic = o.basic !== undefined
    return err
  }

  /** The context of uncached verifications: never looked up, so no validity is kept. */
  const ONCE = { validUntil: 0, validFrom: 0 }

  /**
   * Claim checks and the context of a verified token; cached under `key` when the cache is on.
   * `tokenHash`: the revocation hash, or (uncached: the context lives for one request) the string
   * to hash only if the revocation list asks for it.
   */
  function finish(
    jws: VerifiedJws,
    key: string | undefined,
    tokenHash: string | { of: string },
  ): VerifiedContext {
    const now = clock()
    const facts = checkClaims(jws.payload, o.claimRules, now)
    const permissions = permissionsFromClaims(jws.payload, o.permissionsClaim, o.tokenWildcards)
    const claims = deepFreeze(jws.payload)
    const validity =
      key === undefined
        ? ONCE
        : {
            validUntil: Math.min(facts.validUntil, cache!.limit(now)),
            validFrom: facts.validFrom,
          }
    const entry = new VerifiedContext(
      facts.sub,
      claims,
      permissions,
      facts.expiresAt,
      validity,
      tokenHash,
    )
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

  function verifySignature(
    credential: string,
    key: string | undefined,
  ): MaybePromise<VerifiedContext> {
    const start = performance.now()
    const jwt = canonical(credential)
    const jws = verifyJws(jwt)
    // Revocation keys on what the signature covers, never on the signature: a cached entry keeps
    // only the hash (never the token), an uncached one hashes on demand.
    const signed = signingInput(jwt)
    const tokenHash = key === undefined ? { of: signed } : cacheKey(signed)
    const done = (verified: VerifiedJws) => {
      const entry = finish(verified, key, tokenHash)
      const ms = performance.now() - start
      metrics?.timing('verify', ms)
      if (verifyChannel.hasSubscribers) {
        verifyChannel.publish({ alg: verified.header.alg, durationMs: ms, sub: entry.sub })
      }
      return entry
    }
    return isPromise(jws) ? jws.then(done) : done(jws)
  }

  /**
   * An opaque token: the authorization server decides; its answer goes through the same claim
   * checks. It is never put in the verification cache: the introspector's own cache (its
   * `maxTtlSeconds`, `cache: false`, `evict`) alone decides how long an answer may be reused.
   */
  function introspect(token: string): Promise<VerifiedContext> {
    return o.introspector!.introspect(token).then(
      (claims) => {
        if (claims === null || claims === undefined)
          throw new TokenInvalidError('The token is not active.')
        if (typeof claims !== 'object') {
          throw new AuthUnavailableError('The introspection answer is not an object.', {
            dependency: 'introspection',
          })
        }
        return finish({ header: {}, payload: { ...claims } }, undefined, { of: token })
      },
      (cause: unknown) => {
        throw unavailable(cause, 'The token could not be introspected.', 'introspection')
      },
    )
  }

  /**
   * Verification proper, through the cache. Throws `AuthError`s only. `fromHeader`: the token came
   * from `Authorization: Bearer`, whose b64token alphabet is checked here, on a cache miss only.
   */
  function verifyToken(credential: string, fromHeader: boolean): MaybePromise<VerifiedContext> {
    if (credential.length > o.maxTokenBytes) {
      throw new TokenInvalidError(`The token is longer than ${o.maxTokenBytes} bytes.`)
    }
    const key = cache === undefined ? undefined : cacheKey(credential)
    if (key !== undefined) {
      const hit = cache!.get(key)
      metrics?.verificationCache(hit !== undefined)
      if (hit !== undefined) return hit
    }
    // Every token that reaches the cache is one b64token, whatever carried it, so that a hit can
    // skip the scan. A plain compact JWT needs no scan of its own: the strict compact check
    // (base64url and dots, a subset of b64token) is its scan, and the alphabet is only looked at
    // to tell a malformed header (400) from a malformed token (401) once that check has failed.
    if (credential.startsWith(COMPRESSED_PREFIX) || !isJwtShaped(credential)) {
      checkAlphabet(credential, fromHeader)
      if (o.introspector !== undefined && !isJwtShaped(credential)) return introspect(credential)
      return verifySignature(credential, key)
    }
    try {
      return verifySignature(credential, key)
    } catch (error) {
      checkAlphabet(credential, fromHeader)
      throw error
    }
  }

  /** 400 for a header that is not one b64token; 401 for such a token from elsewhere. */
  function checkAlphabet(credential: string, fromHeader: boolean): void {
    if (isBearerToken(credential)) return
    if (fromHeader) assertBearerToken(credential)
    throw new TokenInvalidError('The token is not a single RFC 6750 b64token.')
  }

  function unlessRevoked(entry: VerifiedContext): MaybePromise<AuthContext> {
    let revoked: boolean | Promise<boolean>
    try {
      revoked = o.revocation.isRevoked(VerifiedContext.subject(entry))
    } catch (cause) {
      throw unavailable(cause, 'The revocation list is unavailable.', 'revocation')
    }
    if (!isPromise(revoked)) {
      if (revoked) throw new TokenRevokedError()
      return resolvePermissions(entry)
    }
    return revoked.then(
      (yes) => {
        if (yes) throw new TokenRevokedError()
        return resolvePermissions(entry)
      },
      (cause: unknown) => {
        throw unavailable(cause, 'The revocation list is unavailable.', 'revocation')
      },
    )
  }

  function run(credential: string, fromHeader: boolean): MaybePromise<AuthContext> {
    const verified = verifyToken(credential, fromHeader)
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
      throw unavailable(cause, 'The session store is unavailable.', 'sessions')
    }
    if (record === null || record === undefined || !(record.expiresAt > clock())) {
      throw new SessionInvalidError()
    }
    if (record.userActive === false) throw new UserInactiveError()
    const context: AuthContext = Object.freeze({
      sub: record.userId,
      claims: Object.freeze({ sub: record.userId, sid: sessionId }),
      permissions: checkedPermissions(record.permissions, undefined, 'The session store')
        .permissions,
      expiresAt: Math.floor(record.expiresAt / 1000),
    })
    const result = await resolvePermissions(context)
    try {
      const touched = store.touch?.(sessionId)
      if (isPromise(touched)) touched.catch(() => {}) // activity tracking never fails a request
    } catch {}
    return result
  }

  async function runBasic(credentials: BasicCredentials, request: unknown): Promise<AuthContext> {
    let user: Awaited<ReturnType<NonNullable<typeof o.basic>>>
    try {
      user = await o.basic!(credentials, request as Req)
    } catch (cause) {
      throw unavailable(cause, 'Basic credentials could not be checked.', 'basic')
    }
    if (user === null || user === undefined) throw new CredentialsInvalidError()
    if (typeof user.sub !== 'string' || user.sub === '') {
      throw new AuthUnavailableError('basic.verify resolved a user without a string `sub`.', {
        dependency: 'basic',
      })
    }
    const record = checkedPermissions(user.permissions, user.roles, 'basic.verify')
    return resolvePermissions(
      Object.freeze({
        sub: user.sub,
        claims: Object.freeze({ sub: user.sub }),
        permissions: record.permissions,
        roles: record.roles,
      }),
    )
  }

  function authenticateRequest(
    input: RequestInput,
    mode: 'required' | 'optional',
  ): MaybePromise<AuthContext | undefined> {
    const credential = extractCredential(input, o)
    if (credential === undefined) {
      if (mode === 'optional') return undefined
      throw new CredentialsMissingError()
    }
    if (typeof credential === 'string') return run(credential, true)
    if ('token' in credential) return run(credential.token, false)
    return 'sessionId' in credential ? runSession(credential) : runBasic(credential, input.request)
  }

  /** Metrics, the diagnostics channel and the security log for one finished authentication. */
  function observe(
    start: number,
    context: AuthContext | undefined,
    error: AuthError | undefined,
    clientAddress?: string,
  ) {
    const outcome: Outcome =
      error !== undefined ? error.code : context === undefined ? 'anonymous' : 'ok'
    const ms = performance.now() - start
    metrics?.authenticated(outcome, ms)
    if (error !== undefined) {
      if (error.code === 'auth_unavailable')
        metrics?.infrastructureError(error.dependency ?? 'permissions')
      log?.failure(error, clientAddress)
    }
    if (authenticateChannel.hasSubscribers) {
      authenticateChannel.publish({ outcome, durationMs: ms, sub: context?.sub })
    }
  }

  /**
   * Runs a pipeline step: errors become `AuthError`s with the realm; the outcome is observed. The
   * peer address is read on a synchronous failure, and before waiting on an asynchronous step
   * (a client that hangs up meanwhile still has its address logged); never on a synchronous
   * success, the hot path.
   */
  function settle<T extends AuthContext | undefined>(
    work: () => MaybePromise<T>,
    input?: RequestInput,
  ): MaybePromise<T> {
    const start = performance.now()
    let result: MaybePromise<T>
    try {
      result = work()
    } catch (error) {
      const err = toAuthError(error)
      observe(start, undefined, err, input?.clientAddress)
      throw err
    }
    if (!isPromise(result)) {
      observe(start, result, undefined)
      return result
    }
    const clientAddress = input?.clientAddress
    return result.then(
      (context) => {
        observe(start, context, undefined)
        return context
      },
      (error: unknown) => {
        const err = toAuthError(error)
        observe(start, undefined, err, clientAddress)
        throw err
      },
    )
  }

  /**
   * A guard that said no (or failed): counted, logged, and turned into the answer. A predicate
   * that throws is a failed check, never an allow: 503, like any other dependency.
   */
  function refused(guard: Guard<Req>, error: unknown): AuthError {
    metrics?.decision(guard.label, false)
    const err = toAuthError(
      error instanceof AuthError
        ? error
        : new AuthUnavailableError('The permission check failed.', {
            cause: error,
            dependency: 'permissions',
          }),
    )
    if (err.code === 'auth_unavailable') metrics?.infrastructureError('permissions')
    log?.failure(err, undefined)
    return err
  }

  return {
    mode: o.mode,
    toAuthError,
    verify(token) {
      try {
        return Promise.resolve(settle(() => run(token, false)))
      } catch (error) {
        return Promise.reject(error)
      }
    },
    authenticate(input, mode = o.mode) {
      return settle(() => authenticateRequest(input, mode), input)
    },
    guard(...requirements) {
      return createGuard(requirements, realm)
    },
    authorize(guard, auth, request) {
      let result: MaybePromise<void>
      try {
        result = guard(auth, request)
      } catch (error) {
        throw refused(guard, error)
      }
      if (!isPromise(result)) {
        metrics?.decision(guard.label, true)
        return result
      }
      return result.then(
        () => metrics?.decision(guard.label, true),
        (error: unknown) => {
          throw refused(guard, error)
        },
      )
    },
    async revoke(target) {
      const introspector = o.introspector
      const entry = revocationEntry(target, {
        nowSeconds: Math.floor(clock() / 1000),
        toleranceSeconds: o.claimRules.toleranceSeconds,
        maxTokenAgeSeconds: o.claimRules.maxTokenAgeSeconds,
        canonical,
        isOpaque: introspector === undefined ? undefined : (token) => !isJwtShaped(token),
      })
      await o.revocation.revoke(entry)
      log?.revoked(entry)
      if (introspector !== undefined && entry.kind === 'token' && 'token' in target) {
        // the shared introspection cache (memory and Redis) must not answer for it either
        const token = target.token.trim()
        if (!isJwtShaped(token)) await introspector.evict?.(token)
      }
    },
    metrics() {
      return metrics?.snapshot()
    },
    clearCache() {
      cache?.clear()
    },
    async close() {
      cache?.clear()
      o.resolver.close?.()
      // only what this instance built: a list or an introspector passed in may be shared
      if (o.owns.revocation) await o.revocation.close?.()
      if (o.owns.introspector) await o.introspector?.close?.()
    },
  }
}
