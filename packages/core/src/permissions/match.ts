/**
 * Wildcard permission matching. A granted permission is either exact (`orders:read`), a prefix
 * wildcard ending in `:*` (`orders:*` grants `orders:read` and `orders:items:write`, not `orders`),
 * or `*` (everything). Wildcards are only meaningful on the granted side: a required `orders:*`
 * is matched literally.
 */

export interface GrantSet {
  has(required: string): boolean
}

const ALL: GrantSet = { has: () => true }
const NONE: GrantSet = { has: () => false }

/** True for a grant that covers more than itself: `*` or a prefix ending in `:*`. */
export function isWildcard(permission: string): boolean {
  return permission === '*' || (permission.length > 2 && permission.endsWith(':*'))
}

/** Compiles granted permissions once, so each check is a `Set` lookup and a short prefix scan. */
export function compileGrants(granted: readonly string[]): GrantSet {
  if (granted.length === 0) return NONE
  const exact = new Set<string>()
  const prefixes: string[] = []
  for (const permission of granted) {
    if (permission === '*') return ALL
    if (isWildcard(permission)) {
      prefixes.push(permission.slice(0, -1)) // keep the ':'
    } else {
      exact.add(permission)
    }
  }
  if (prefixes.length === 0) return { has: (required) => exact.has(required) }
  return {
    has(required) {
      if (exact.has(required)) return true
      for (const prefix of prefixes) {
        if (required.length > prefix.length && required.startsWith(prefix)) return true
      }
      return false
    },
  }
}

const compiled = new WeakMap<readonly string[], GrantSet>()

/** The compiled grants of a (frozen) permission array, computed once per array. */
export function grantsOf(granted: readonly string[]): GrantSet {
  let set = compiled.get(granted)
  if (set === undefined) {
    set = compileGrants(granted)
    compiled.set(granted, set)
  }
  return set
}
