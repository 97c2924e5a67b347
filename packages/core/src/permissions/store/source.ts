/** Permission sources: the system of record behind the cache layers. */
import { AuthUnavailableError, isAuthError } from '../../errors.js'
import type { PermissionRecord, PermissionSource } from '../../types.js'
import { toPermissionRecord } from './record.js'

/** A source that can also answer for many users in one call (one SQL query for a whole batch). */
export interface BatchPermissionSource extends PermissionSource {
  /** Answers for every id in `subjects` (`null` for unknown or inactive); rejects on infrastructure failure. */
  lookupMany?(subjects: readonly string[]): Promise<ReadonlyMap<string, PermissionRecord | null>>
  close?(): Promise<void>
}

/** A plain function source: `null` for an unknown or inactive user, reject when unreachable. */
export type PermissionLookup = (subject: string) => Promise<PermissionRecord | null>

/**
 * Turns a function or a source into a {@link BatchPermissionSource} whose answers are checked and
 * frozen: a malformed answer, or a rejection that is not already an `AuthError`, becomes an
 * {@link AuthUnavailableError} (fail closed) with the original as `cause`.
 */
export function toPermissionSource(
  source: PermissionLookup | BatchPermissionSource,
): BatchPermissionSource {
  const lookup: PermissionLookup =
    typeof source === 'function' ? source : (subject) => source.lookup(subject)

  function unavailable(error: unknown): unknown {
    return isAuthError(error)
      ? error
      : new AuthUnavailableError('The permission source failed.', { cause: error })
  }

  function check(value: unknown): PermissionRecord | null {
    if (value === null) return null
    const record = toPermissionRecord(value)
    if (record === undefined) {
      throw new AuthUnavailableError(
        'The permission source answered something other than { permissions, roles? } or null.',
      )
    }
    return record
  }

  const normalized: BatchPermissionSource = {
    async lookup(subject) {
      let value: unknown
      try {
        value = await lookup(subject)
      } catch (error) {
        throw unavailable(error)
      }
      return check(value)
    },
  }
  if (typeof source !== 'function' && typeof source.lookupMany === 'function') {
    const many = source.lookupMany.bind(source)
    normalized.lookupMany = async (subjects) => {
      let answers: ReadonlyMap<string, PermissionRecord | null>
      try {
        answers = await many(subjects)
      } catch (error) {
        throw unavailable(error)
      }
      const checked = new Map<string, PermissionRecord | null>()
      for (const subject of subjects) {
        if (!answers.has(subject)) {
          throw new AuthUnavailableError('The permission source left a user out of a batch answer.')
        }
        checked.set(subject, check(answers.get(subject)))
      }
      return checked
    }
  }
  if (typeof source !== 'function' && typeof source.close === 'function') {
    normalized.close = source.close.bind(source)
  }
  return normalized
}
