/**
 * The strict revocation check: what the local list does not already refuse is asked of the shared
 * record, through the layered cache. The checks of one tick share one `MGET` of the Redis denylist
 * (on a Cluster one per slot: see `mgetAcross`), which reads each key together with the marker of
 * its bucket (the same slot); while a bucket is incomplete (Redis lost it and it is being rebuilt) or Redis cannot answer,
 * PostgreSQL answers for the same rows in one query. Both failing rejects the check (503).
 * A revocation PostgreSQL answers is kept in the memory list: the denylist may not have it yet (its
 * revoker could not reach Redis), and what this instance has refused it must never accept again.
 */
import { AuthUnavailableError } from '../errors.js'
import { createLayeredCache, type Layer } from '../infra/layered-cache.js'
import type { RedisCall } from '../infra/redis.js'
import { mgetAcross } from '../infra/redis-cluster.js'
import type { RedisClient } from '../peer-types.js'
import type { RevocationEntry, RevocationSubject } from '../types.js'
import { rowKey, subjectKeys } from './keys.js'
import type { RevocationSource } from './postgres.js'

/**
 * What the record says of one row key: `null` when nothing revokes it, else the time (seconds)
 * before which tokens are revoked: a subject's `before`, `Infinity` for a token or a `jti`.
 */
type RevokedBefore = number

export interface StrictCheckOptions {
  readonly redis: RedisClient
  /** The list's guarded Redis call (deadline and breaker). */
  readonly guarded: RedisCall
  readonly keyOfRow: (row: string) => string
  /** The marker of a row's bucket: present while the bucket holds every live revocation. */
  readonly markerOf: (row: string) => string
  readonly source: RevocationSource
  /** Starts a rebuild of the denylist from PostgreSQL (one at a time, across instances). */
  readonly rebuild: () => void
  /** Most row keys read by one `MGET` or one query. */
  readonly maxBatchSize: number
  /** Keeps revocations read from PostgreSQL in the memory list. Must not throw. */
  readonly remember: (entries: readonly RevocationEntry[]) => void
  /** A read that failed (Redis, or PostgreSQL behind it). Must not throw. */
  readonly report: (error: unknown) => void
}

export interface StrictCheck {
  /** Whether the record revokes `subject`; rejects with `AuthUnavailableError` when neither Redis nor PostgreSQL answers. */
  isRevoked(subject: RevocationSubject): Promise<boolean>
  close(): Promise<void>
}

/** Creates the strict check of a distributed revocation list. */
export function createStrictCheck(options: StrictCheckOptions): StrictCheck {
  const { redis, guarded, keyOfRow, markerOf, source, rebuild, report } = options

  // Read-only here: the denylist is written by revocations and rebuilt from PostgreSQL.
  const denylist: Layer<RevokedBefore> = {
    name: 'redis',
    shared: true,
    async getMany(rows) {
      const markers = [...new Set(rows.map(markerOf))]
      const values = await guarded('MGET', () =>
        mgetAcross(redis, [...markers, ...rows.map(keyOfRow)]),
      )
      const incomplete = new Set(markers.filter((_, i) => values[i] === null))
      if (incomplete.size > 0) rebuild()
      return rows.map((row, i) => {
        // an incomplete bucket: PostgreSQL answers meanwhile
        if (incomplete.has(markerOf(row))) return undefined
        const value = values[markers.length + i]
        if (value === null || value === undefined) return null
        if (!row.startsWith('sub:')) return Number.POSITIVE_INFINITY
        const before = Number(value)
        return Number.isFinite(before) ? before : Number.POSITIVE_INFINITY
      })
    },
  }

  async function findLive(rows: readonly string[]): Promise<Map<string, RevokedBefore>> {
    try {
      const found = new Map<string, RevokedBefore>()
      const entries = await source.findLive(rows)
      options.remember(entries)
      for (const entry of entries) {
        found.set(rowKey(entry), entry.kind === 'subject' ? entry.before : Number.POSITIVE_INFINITY)
      }
      return found
    } catch (cause) {
      report(cause)
      throw new AuthUnavailableError('The revocation list is unavailable.', { cause })
    }
  }

  const cache = createLayeredCache<RevokedBefore>({
    layers: [denylist],
    source: {
      lookupMany: findLive,
      lookup: async (row) => (await findLive([row])).get(row) ?? null,
    },
    maxBatchSize: options.maxBatchSize,
    report: (error) => report(error),
  })

  return {
    async isRevoked(subject) {
      const keys = subjectKeys(subject)
      const rows = [cache.get(keys.token), cache.get(keys.sub)]
      if (keys.jti !== undefined) rows.push(cache.get(keys.jti))
      for (const before of await Promise.all(rows)) {
        if (before !== null && (subject.iat === undefined || subject.iat <= before)) return true
      }
      return false
    },
    close: () => cache.close(),
  }
}
