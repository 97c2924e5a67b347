import { CredentialsMissingError, PermissionDeniedError } from '../errors.js'
import type { AuthContext } from '../types.js'
import { isPromise, type MaybePromise } from '../util.js'
import { compileRequirement, type Requirement } from './predicates.js'

/** A route guard: returns (or resolves) when allowed, throws an `AuthError` otherwise. */
export interface Guard<Req = unknown> {
  (auth: AuthContext | undefined, request: Req): MaybePromise<void>
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
