/**
 * The composer: validated options in, collaborators built, one handler per credential kind wired
 * to extraction, instrumentation around it. Every step lives in its own module.
 */
import type { Auth } from './auth.js'
import { createVerificationCache } from './cache/verification-cache.js'
import { setupDpop } from './dpop/setup.js'
import { type AuthError, CredentialsMissingError } from './errors.js'
import { extractCredential } from './extract/credentials.js'
import { createBasicHandler } from './handlers/basic.js'
import { createBearerHandler, isJwtShaped } from './handlers/bearer.js'
import { isDpopBound } from './handlers/dpop.js'
import type { CredentialHandler, Handlers } from './handlers/handler.js'
import { createIntrospectedHandler } from './handlers/introspected.js'
import { createSessionHandler } from './handlers/session.js'
import { createTokenSteps } from './handlers/token.js'
import { createInstrumentation } from './instrumentation.js'
import { createIntrospector } from './introspection/index.js'
import { combineLoggers } from './logging.js'
import { createMetrics } from './metrics/metrics.js'
import { createClientCertificates } from './mtls/client-certificate.js'
import { acceptanceWindow } from './options/issuers.js'
import { isIntrospector, resolveOptions } from './options/resolve.js'
import type { AuthOptions } from './options/types.js'
import { createGuard } from './permissions/guard.js'
import { createPermissionResolver } from './permissions/resolve.js'
import { revocationEntry } from './revocation/entry.js'
import { createMemoryRevocationList } from './revocation/memory.js'
import { openKeySource } from './token/key-source.js'
import type { AuthContext, RequestInput } from './types.js'
import { isPromise, type MaybePromise } from './util.js'

export type { Auth } from './auth.js'
export { CHANNELS } from './instrumentation.js'

/**
 * Creates an authenticator: options are checked once here (a bad option throws `TypeError`).
 *
 * @example
 * const auth = createAuth({ algorithms: ['RS256'], publicKey: pem, issuer: 'https://issuer.example', audience: 'orders-api' })
 * const ctx = await auth.verify(token) // { sub, claims, permissions, expiresAt }
 */
export function createAuth<Req = unknown>(options: AuthOptions<Req>): Auth<Req> {
  const o = resolveOptions(options)
  const { clock, realm } = o
  // collaborators: what the options name, or the defaults; close() closes only what it built here
  const metrics = o.metrics === false ? undefined : (o.metrics ?? createMetrics())
  const logger = combineLoggers(o.logger, o.audit)
  const revocation = o.revocation ?? createMemoryRevocationList({ clock })
  const introspector =
    o.introspection === undefined || isIntrospector(o.introspection)
      ? o.introspection
      : createIntrospector({ clock, ...o.introspection })
  const cache = o.cache === undefined ? undefined : createVerificationCache({ ...o.cache, clock })
  const keys = openKeySource(o.keys, o.headerRules, { clock, cache, logger })
  const revocationWindow = acceptanceWindow(o)
  const instrument = createInstrumentation({ ...o, metrics, logger, basic: !!o.basic })
  const resolvePermissions = createPermissionResolver(o.store, o.merge, instrument.permissions)
  const guardEnv = { clock, toleranceSeconds: o.claimRules.toleranceSeconds }

  const certificates = createClientCertificates(o.mtls)
  const steps = createTokenSteps({ ...o, cache, revocation, resolvePermissions, certificates })
  const bearer = createBearerHandler({
    ...o,
    cache,
    verifyJws: keys.verify,
    steps,
    opaque: introspector && createIntrospectedHandler({ introspector, steps }),
    observe: instrument,
  })
  const proofs = o.dpop && setupDpop(o.dpop, bearer, o)
  const handlers: Handlers = {
    bearer,
    session: o.sessions && createSessionHandler({ ...o.sessions, clock, resolvePermissions }),
    basic: o.basic && createBasicHandler({ verify: o.basic, resolvePermissions }),
    dpop: proofs?.handler,
  }
  const gate = proofs?.gate

  function authenticateRequest(
    input: RequestInput,
    mode: 'required' | 'optional',
  ): MaybePromise<AuthContext | undefined> {
    const credential = extractCredential(input, o)
    if (credential === undefined) {
      if (mode === 'optional') return undefined
      throw new CredentialsMissingError()
    }
    if (gate !== undefined && credential.kind === 'bearer') gate(credential, input)
    return (handlers[credential.kind] as CredentialHandler).authenticate(credential, input)
  }

  return {
    mode: o.mode,
    toAuthError: instrument.toAuthError,
    verify(token) {
      try {
        return Promise.resolve(instrument.settle(() => bearer.verify(token)))
      } catch (error) {
        return Promise.reject(error)
      }
    },
    authenticate(input, mode = o.mode) {
      return instrument.settle(() => authenticateRequest(input, mode), input)
    },
    guard(...requirements) {
      return createGuard(requirements, realm)
    },
    authorize(guard, auth, request) {
      let result: MaybePromise<void>
      try {
        result = guard(auth, request, guardEnv)
      } catch (error) {
        throw dpopAware(instrument.refused(guard.label, error), auth)
      }
      if (!isPromise(result)) {
        instrument.allowed(guard.label)
        return result
      }
      return result.then(
        () => instrument.allowed(guard.label),
        (error: unknown) => {
          throw dpopAware(instrument.refused(guard.label, error), auth)
        },
      )
    },
    async revoke(target) {
      const entry = revocationEntry(target, {
        nowSeconds: Math.floor(clock() / 1000),
        ...revocationWindow,
        canonical: bearer.canonical,
        isOpaque: introspector === undefined ? undefined : (token) => !isJwtShaped(token),
      })
      await revocation.revoke(entry)
      instrument.revoked(entry)
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
      keys.close()
      // only what this instance built: a list or an introspector passed in may be shared
      if (revocation !== o.revocation) await revocation.close?.()
      if (introspector !== o.introspection) await introspector?.close?.()
    },
  }
}

/** A refusal of a DPoP-bound caller is told in the `DPoP` challenge (RFC 9449 section 7.2). */
function dpopAware(error: AuthError, auth: AuthContext | undefined): AuthError {
  if (error.dpop !== undefined && isDpopBound(auth)) error.viaDpop = true
  return error
}
