import type { Algorithm } from './algorithms.js'
import type { VerifyKey } from './keys.js'

/** Finds the keys that may have signed a token, from its `alg` and `kid`. */
export interface KeyResolver {
  resolve(
    alg: Algorithm,
    kid: string | undefined,
  ): readonly VerifyKey[] | Promise<readonly VerifyKey[]>
  /**
   * Calls `listener` whenever the key set changes after it was first loaded (a remote set that
   * rotated): verifications cached under the old set may rest on a key that is gone.
   */
  onKeysChanged?(listener: () => void): void
  close?(): void
}

const NO_KEYS: readonly VerifyKey[] = Object.freeze([])

/**
 * Picks candidate keys: those whose `kid` matches the token's; failing that, the keys that carry
 * no `kid` (a single configured PEM verifies tokens that name a `kid`). Only keys that serve `alg`.
 */
export function pickKeys(
  keys: readonly VerifyKey[],
  alg: Algorithm,
  kid: string | undefined,
): readonly VerifyKey[] {
  const exact: VerifyKey[] = []
  const unlabelled: VerifyKey[] = []
  for (const key of keys) {
    if (!key.checks.has(alg)) continue
    if (kid !== undefined && key.kid === kid) exact.push(key)
    else if (key.kid === undefined || kid === undefined) unlabelled.push(key)
  }
  if (exact.length > 0) return exact
  return unlabelled.length > 0 ? unlabelled : NO_KEYS
}

/** Keys given in the options: resolution is synchronous and memoised per (alg, kid). */
export function createStaticKeyResolver(keys: readonly VerifyKey[]): KeyResolver {
  const memo = new Map<string, readonly VerifyKey[]>()
  return {
    resolve(alg, kid) {
      // kid values come from tokens; memoise only the ones our keys know, so memory stays bounded
      const memoKey = kid === undefined ? alg : `${alg}\u0000${kid}`
      let found = memo.get(memoKey)
      if (found === undefined) {
        found = pickKeys(keys, alg, kid)
        if (kid === undefined || found.some((k) => k.kid === kid)) memo.set(memoKey, found)
      }
      return found
    },
  }
}
