import { CredentialsMissingError, PermissionDeniedError } from '../errors.js'
import type { AuthContext, Clock } from '../types.js'
import { isPromise, type MaybePromise } from '../util.js'
import { compileRequirement, type Requirement } from './predicates.js'

/** What a guard may need of the instance that runs it (`auth.authorize` passes it). */
export interface GuardEnvironment {
  /** The instance's clock (milliseconds). */
  readonly clock: Clock
  /** The instance's `clockToleranceSeconds`. */
  readonly toleranceSeconds: number
}

/** A route guard: returns (or resolves) when allowed, throws an `AuthError` otherwise. */
export interface Guard<Req = unknown> {
  (auth: AuthContext | undefined, request: Req, env?: GuardEnvironment): MaybePromise<void>
  /** A label for metrics: the permissions it requires, fixed at route definition. */
  readonly label: string
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
  const guard = (auth: AuthContext | undefined, request: Req): MaybePromise<void> => {
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
  return Object.assign(guard, { label: scope.length > 0 ? scope.join(' ') : 'custom' })
}

/**
 * One guard of several, run in order: the first refusal is the answer. Its label joins theirs
 * (a single guard is returned as is).
 *
 * @example
 * const guard = chainGuards([createStepUpGuard({ acrValues: ['mfa'] }), createGuard(['payments:write'])])
 */
export function chainGuards<Req = unknown>(guards: readonly Guard<Req>[]): Guard<Req> {
  if (guards.length === 1) return guards[0]!
  const run = (
    auth: AuthContext | undefined,
    request: Req,
    env: GuardEnvironment | undefined,
    from: number,
  ): MaybePromise<void> => {
    for (let i = from; i < guards.length; i++) {
      const result = guards[i]!(auth, request, env)
      if (isPromise(result)) return result.then(() => run(auth, request, env, i + 1))
    }
    return undefined
  }
  const guard = (auth: AuthContext | undefined, request: Req, env?: GuardEnvironment) =>
    run(auth, request, env, 0)
  return Object.assign(guard, { label: guards.map((g) => g.label).join(' + ') })
}
