import type { Clock, RevocationEntry, RevocationList, RevocationSubject } from '../types.js'
import { positiveInteger } from '../validate.js'

export interface MemoryRevocationOptions {
  /**
   * Most live revocations kept; when full, expired ones are swept, and if none has expired the new
   * revocation is refused (a `RangeError`), never a live one dropped. Default 100 000.
   */
  readonly max?: number
  readonly clock?: Clock
}

/**
 * The embedded revocation list: three maps checked synchronously on every request (cached or
 * not). Entries are forgotten once the tokens they cover have expired. This is what a single
 * instance needs; a distributed list feeds the same structure from Redis and PostgreSQL.
 *
 * @example
 * const list = createMemoryRevocationList()
 * await list.revoke({ kind: 'jti', jti: 'abc', expiresAt: exp })
 */
export function createMemoryRevocationList(
  options: MemoryRevocationOptions = {},
): RevocationList & {
  /** Applies an entry synchronously (used by distributed lists when a message arrives). */
  apply(entry: RevocationEntry): void
  /** Applies each entry; one refused (the list is full) is given to `onError` and the rest go on. */
  applyEach(entries: readonly RevocationEntry[], onError: (error: unknown) => void): void
  readonly size: number
} {
  const max = positiveInteger(options.max ?? 100_000, 'max', 100_000, 'createMemoryRevocationList')
  const clock = options.clock ?? Date.now
  const tokens = new Map<string, number>()
  const jtis = new Map<string, number>()
  const subjects = new Map<string, { before: number; expiresAt: number }>()
  const size = () => tokens.size + jtis.size + subjects.size

  function sweep(): void {
    const now = clock() / 1000
    for (const [k, exp] of tokens) if (exp <= now) tokens.delete(k)
    for (const [k, exp] of jtis) if (exp <= now) jtis.delete(k)
    for (const [k, v] of subjects) if (v.expiresAt <= now) subjects.delete(k)
  }

  function apply(entry: RevocationEntry): void {
    if (size() >= max) {
      sweep()
      // Never drop a live revocation to make room (that would let a revoked token back in):
      // refuse the new one loudly instead.
      if (size() >= max) {
        throw new RangeError(
          `The revocation list holds ${max} live revocations; raise \`max\` or use a distributed list in strict mode.`,
        )
      }
    }
    if (entry.kind === 'token') tokens.set(entry.tokenHash, entry.expiresAt)
    else if (entry.kind === 'jti') jtis.set(entry.jti, entry.expiresAt)
    else {
      const previous = subjects.get(entry.sub)
      if (previous === undefined || previous.before < entry.before) {
        subjects.set(entry.sub, { before: entry.before, expiresAt: entry.expiresAt })
      }
    }
  }

  return {
    apply,
    applyEach(entries, onError) {
      for (const entry of entries) {
        try {
          apply(entry)
        } catch (error) {
          onError(error)
        }
      }
    },
    get size() {
      return size()
    },
    isRevoked(subject: RevocationSubject): boolean {
      if (tokens.size !== 0 && tokens.has(subject.tokenHash)) return true
      if (jtis.size !== 0 && subject.jti !== undefined && jtis.has(subject.jti)) return true
      if (subjects.size !== 0) {
        const s = subjects.get(subject.sub)
        if (s !== undefined && (subject.iat === undefined || subject.iat <= s.before)) return true
      }
      return false
    },
    async revoke(entry) {
      apply(entry)
    },
  }
}
