/**
 * What is observed around the pipeline: metrics, diagnostics channels and the security log, and
 * the one place where anything thrown becomes an `AuthError` with the instance's realm.
 */
import { channel } from 'node:diagnostics_channel'
import {
  AuthError,
  AuthUnavailableError,
  asAuthError,
  type DpopChallengeOptions,
} from './errors.js'
import { createSecurityLog, type SecurityLogger } from './logging.js'
import type { AuthMetrics, Outcome } from './metrics/metrics.js'
import type { AuthContext, Clock, RequestInput, RevocationEntry } from './types.js'
import { isPromise, type MaybePromise } from './util.js'

/** Diagnostics channels: subscribe with `diagnostics_channel.subscribe(name, fn)` to trace. */
export const CHANNELS = {
  authenticate: 'authframework:authenticate',
  verify: 'authframework:verify',
  permissions: 'authframework:permissions',
} as const

const authenticateChannel = channel(CHANNELS.authenticate)
const verifyChannel = channel(CHANNELS.verify)
const permissionsChannel = channel(CHANNELS.permissions)

export interface InstrumentationOptions {
  readonly metrics: AuthMetrics | undefined
  readonly logger: SecurityLogger | undefined
  readonly clock: Clock
  /** The `realm` every error carries into its challenge. */
  readonly realm: string
  /** Basic credentials are accepted: challenges offer `Basic` too. */
  readonly basic: boolean
  /** DPoP proofs are accepted: challenges offer `DPoP` (see `AuthError.dpop`). */
  readonly dpop?: DpopChallengeOptions | undefined
}

export interface Instrumentation {
  /** Turns anything thrown in the pipeline into an `AuthError` with this instance's realm. */
  toAuthError(error: unknown): AuthError
  /**
   * Runs one authentication: errors become `AuthError`s, and the outcome is counted, timed,
   * published and (on failure) logged. Synchronous when `work` is.
   */
  settle<T extends AuthContext | undefined>(
    work: () => MaybePromise<T>,
    input?: RequestInput,
  ): MaybePromise<T>
  /** A verification cache lookup. */
  cacheLookup(hit: boolean): void
  /** A signature verified (a cache miss). */
  verified(alg: unknown, ms: number, sub: string): void
  /** A permission store lookup. */
  permissions(ms: number): void
  /** A route guard that allowed the request. */
  allowed(label: string): void
  /** A route guard that refused (or failed): counted, logged, and turned into the answer. */
  refused(label: string, error: unknown): AuthError
  /** A revocation recorded. */
  revoked(entry: RevocationEntry): void
}

/**
 * The instrumentation of one `createAuth` instance.
 *
 * @example
 * const instrument = createInstrumentation({ metrics: createMetrics(), logger, clock: Date.now, realm: 'api', basic: false })
 * const context = instrument.settle(() => handler.authenticate(credential, input), input)
 */
export function createInstrumentation(options: InstrumentationOptions): Instrumentation {
  const { metrics, clock, realm, basic, dpop } = options
  const log = options.logger === undefined ? undefined : createSecurityLog(options.logger, clock)

  function toAuthError(error: unknown): AuthError {
    const err = asAuthError(error)
    err.realm = realm
    err.basic = basic
    err.dpop = dpop
    return err
  }

  function observe(
    start: number,
    context: AuthContext | undefined,
    error: AuthError | undefined,
    clientAddress?: string,
  ): void {
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

  // The peer address is read on a synchronous failure, and before waiting on an asynchronous step
  // (a client that hangs up meanwhile still has its address logged); never on a synchronous
  // success, where no log line needs it.
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

  return {
    toAuthError,
    settle,
    cacheLookup(hit) {
      metrics?.verificationCache(hit)
    },
    verified(alg, ms, sub) {
      metrics?.timing('verify', ms)
      if (verifyChannel.hasSubscribers) verifyChannel.publish({ alg, durationMs: ms, sub })
    },
    permissions(ms) {
      metrics?.timing('permissions', ms)
      if (permissionsChannel.hasSubscribers) permissionsChannel.publish({ durationMs: ms })
    },
    allowed(label) {
      metrics?.decision(label, true)
    },
    // A predicate that throws is a failed check, never an allow: 503, like any other dependency.
    refused(label, error) {
      metrics?.decision(label, false)
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
    },
    revoked(entry) {
      log?.revoked(entry)
    },
  }
}
