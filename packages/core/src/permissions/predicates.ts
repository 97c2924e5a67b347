import { isScopeToken } from '../http.js'
import type { AuthContext } from '../types.js'
import { isPromise, type MaybePromise } from '../util.js'
import { grantsOf } from './match.js'

/** A custom check; it sees the verified context and the framework's request. */
export type Predicate<Req = unknown> = (auth: AuthContext, request: Req) => MaybePromise<boolean>

const kind = Symbol('authframework.requirement')

interface Composite<Req> {
  readonly [kind]: 'all' | 'any' | 'not'
  readonly items: readonly Requirement<Req>[]
}

/** A permission string, a custom predicate, or an `allOf` / `anyOf` / `not` composition. */
export type Requirement<Req = unknown> = string | Predicate<Req> | Composite<Req>

/**
 * Every requirement must hold.
 * @example requirePermission(allOf('orders:read', 'invoices:read'))
 */
export function allOf<Req = unknown>(...items: Requirement<Req>[]): Requirement<Req> {
  return { [kind]: 'all', items }
}

/**
 * At least one requirement must hold.
 * @example requirePermission(anyOf('orders:read', 'admin'))
 */
export function anyOf<Req = unknown>(...items: Requirement<Req>[]): Requirement<Req> {
  return { [kind]: 'any', items }
}

/**
 * The requirement must not hold.
 * @example requirePermission(allOf('orders:read', not('suspended')))
 */
export function not<Req = unknown>(item: Requirement<Req>): Requirement<Req> {
  return { [kind]: 'not', items: [item] }
}

type Check<Req> = (auth: AuthContext, request: Req) => MaybePromise<boolean>

/** A requirement compiled once at route definition: the check, and the scopes to advertise. */
export interface CompiledRequirement<Req = unknown> {
  readonly check: Check<Req>
  /** Permission strings that the requirement asks for (outside `not`), for the `scope` attribute. */
  readonly scope: readonly string[]
}

function compileOne<Req>(req: Requirement<Req>, scope: Set<string>, negated: boolean): Check<Req> {
  if (typeof req === 'string') {
    if (!isScopeToken(req)) {
      throw new TypeError(
        `requirePermission: ${JSON.stringify(req)} is not a valid permission; use printable ASCII without spaces, quotes or backslashes`,
      )
    }
    if (!negated) scope.add(req)
    return (auth) => grantsOf(auth.permissions).has(req)
  }
  if (typeof req === 'function') {
    return (auth, request) => {
      const result = req(auth, request)
      return isPromise(result) ? result.then((ok) => ok === true) : result === true
    }
  }
  if (req === null || typeof req !== 'object' || !(kind in req)) {
    throw new TypeError(
      'requirePermission: expected permission strings, predicates, or allOf/anyOf/not compositions',
    )
  }
  const k = req[kind]
  if (req.items.length === 0)
    throw new TypeError(`requirePermission: ${k}Of() needs at least one requirement`)
  const checks = req.items.map((item) => compileOne(item, scope, negated !== (k === 'not')))
  if (k === 'not') {
    const inner = checks[0]!
    return (auth, request) => {
      const r = inner(auth, request)
      return isPromise(r) ? r.then((ok) => !ok) : !r
    }
  }
  const wanted = k === 'all' // 'all' stops at the first false, 'any' at the first true
  return (auth, request) => {
    for (let i = 0; i < checks.length; i++) {
      const r = checks[i]!(auth, request)
      if (isPromise(r)) return continueAsync(r, checks, i, auth, request, wanted)
      if (r !== wanted) return !wanted
    }
    return wanted
  }
}

async function continueAsync<Req>(
  pending: Promise<boolean>,
  checks: readonly Check<Req>[],
  index: number,
  auth: AuthContext,
  request: Req,
  wanted: boolean,
): Promise<boolean> {
  if ((await pending) !== wanted) return !wanted
  for (let i = index + 1; i < checks.length; i++) {
    if ((await checks[i]!(auth, request)) !== wanted) return !wanted
  }
  return wanted
}

/**
 * Compiles the arguments of `requirePermission(...)`: all of them must hold. Throws `TypeError`
 * for an empty list or a malformed permission, at route definition rather than per request.
 */
export function compileRequirement<Req = unknown>(
  requirements: readonly Requirement<Req>[],
): CompiledRequirement<Req> {
  if (requirements.length === 0) {
    throw new TypeError('requirePermission: give at least one permission or predicate')
  }
  const scope = new Set<string>()
  const check = compileOne(allOf(...requirements), scope, false)
  return { check, scope: [...scope] }
}
