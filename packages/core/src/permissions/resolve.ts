import { AuthError, AuthUnavailableError, TokenInvalidError, UserInactiveError } from '../errors.js'
import type { PermissionMerge } from '../options/types.js'
import type { AuthContext, PermissionRecord, PermissionSource } from '../types.js'
import { isPromise, type MaybePromise } from '../util.js'
import { isWildcard } from './match.js'
import { toPermissionRecord } from './store/record.js'

export const NO_PERMISSIONS: readonly string[] = Object.freeze([])

/**
 * Granted permissions from the configured claim: an array of strings, or `scope`
 * (space-delimited). Wildcard grants (`*`, `x:*`) are dropped unless `wildcards` is true: a token
 * is not trusted to claim everything (see `tokenWildcards`).
 */
export function permissionsFromClaims(
  claims: Record<string, unknown>,
  claim: string,
  wildcards = false,
): readonly string[] {
  const value = claims[claim]
  if (value === undefined) return NO_PERMISSIONS
  let granted: readonly string[]
  if (claim === 'scope') {
    if (typeof value !== 'string')
      throw new TokenInvalidError('The "scope" claim must be a string.')
    granted = Object.freeze(value.split(' ').filter((s) => s !== ''))
  } else if (Array.isArray(value)) {
    granted = value as string[] // frozen with the claims
  } else {
    throw new TokenInvalidError(`The "${claim}" claim must be an array of strings.`)
  }
  // one pass on every verification: the type of each grant, and whether one ends in `*` (42)
  let starred = false
  for (let i = 0; i < granted.length; i++) {
    const permission = granted[i]
    if (typeof permission !== 'string') {
      throw new TokenInvalidError(`The "${claim}" claim must be an array of strings.`)
    }
    if (permission.charCodeAt(permission.length - 1) === 42) starred = true
  }
  if (wildcards || !starred) return granted
  return Object.freeze(granted.filter((p) => !isWildcard(p)))
}

/**
 * Checks permissions (and roles) that user code handed back — a Basic verifier, a session store —
 * and fails closed on anything malformed (a string must not be spread into characters, one a `*`).
 */
export function checkedPermissions(
  permissions: unknown,
  roles: unknown,
  from: string,
): PermissionRecord {
  const record = toPermissionRecord({ permissions: permissions ?? [], roles: roles ?? [] })
  if (record === undefined)
    throw new AuthUnavailableError(`${from} answered malformed permissions or roles.`)
  return record
}

function union(a: readonly string[], b: readonly string[]): readonly string[] {
  if (a.length === 0) return b
  if (b.length === 0) return a
  return Object.freeze([...new Set([...a, ...b])])
}

/**
 * Adds a permission store's answer to a verified context, per `merge`. Results are memoised per
 * (store record, context), so a steady stream of cached requests allocates nothing.
 */
export function createPermissionResolver(
  store: PermissionSource | undefined,
  merge: PermissionMerge,
  timing?: (ms: number) => void,
): (context: AuthContext) => MaybePromise<AuthContext> {
  if (store === undefined) return (context) => context
  const merged = new WeakMap<PermissionRecord, WeakMap<AuthContext, AuthContext>>()

  function withRecord(context: AuthContext, record: PermissionRecord | null): AuthContext {
    if (record === null) throw new UserInactiveError()
    let byContext = typeof record === 'object' ? merged.get(record) : undefined
    let result = byContext?.get(context)
    if (result !== undefined) return result
    const checked = toPermissionRecord(record)
    if (checked === undefined) {
      throw new AuthUnavailableError(
        'The permission store answered something other than { permissions, roles? } or null.',
      )
    }
    const permissions =
      merge === 'union'
        ? union(context.permissions, checked.permissions)
        : merge === 'store'
          ? checked.permissions
          : context.permissions
    result = Object.freeze({ ...context, permissions, roles: checked.roles ?? NO_PERMISSIONS })
    if (byContext === undefined) {
      byContext = new WeakMap()
      merged.set(record, byContext)
    }
    byContext.set(context, result)
    return result
  }

  const unavailable = (cause: unknown) =>
    cause instanceof AuthError
      ? cause
      : new AuthUnavailableError('The permission store is unavailable.', {
          cause,
          dependency: 'permissions',
        })

  // A store that can answer without a promise (a memory hit) keeps a cached request synchronous.
  const maybeSync = typeof store.lookupMaybeSync === 'function'

  return (context) => {
    const start = timing === undefined ? 0 : performance.now()
    let answer: MaybePromise<PermissionRecord | null>
    try {
      answer = maybeSync ? store.lookupMaybeSync!(context.sub) : store.lookup(context.sub)
    } catch (cause) {
      throw unavailable(cause)
    }
    if (!isPromise(answer)) {
      if (timing !== undefined) timing(performance.now() - start)
      return withRecord(context, answer)
    }
    return answer.then(
      (record) => {
        if (timing !== undefined) timing(performance.now() - start)
        return withRecord(context, record)
      },
      (cause: unknown) => {
        throw unavailable(cause)
      },
    )
  }
}
