/**
 * The contract between the session store and one cache layer: like the permission store's
 * `CacheLayer`, with the two writes sessions need (an unconditional one at creation, and a
 * read-through fill that never replaces a tombstone).
 */
import type { ChangeLog } from '../infra/change-log.js'
import type { InvalidationListener, MaybePromise } from '../permissions/store/layer.js'
import type { Session } from './record.js'

/** One layer's answer: a session, `null` (destroyed or unknown, cached), or `undefined` (miss). */
export type CachedSession = Session | null | undefined

export interface SessionLayer {
  /** Short name used in error reports (`memory`, `redis`). */
  readonly name: string
  /** True when every instance sees the same data (Redis). */
  readonly shared: boolean
  /** For layers that answer without I/O. */
  getSync?(id: string): CachedSession
  get(id: string): MaybePromise<CachedSession>
  /** A new session (`create`). */
  set(session: Session): MaybePromise<void>
  /** A value read from a lower layer; a shared layer never lets it replace a tombstone. */
  fill(id: string, value: Session | null): MaybePromise<void>
  /** Drops `id` from a process-local layer. */
  delete(id: string): MaybePromise<void>
  /** Drops everything of a process-local layer. */
  clear?(): void
  /**
   * Shared layers: replaces the sessions with tombstones (kept until `expiresAt`, when known) and
   * tells every subscribed instance to drop them.
   */
  invalidate?(
    sessions: ReadonlyArray<{ readonly id: string; readonly expiresAt?: number }>,
  ): Promise<void>
  /** Shared layers: invalidations from other instances; returns the unsubscribe function. */
  subscribe?(listener: InvalidationListener): () => void
  /**
   * Shared layers: stamp writes with the change log's version and answer a copy older than the
   * latest change of its session as a miss. The store calls it when it is given a change log.
   */
  followChanges?(changes: ChangeLog): void
  ready?(): Promise<void>
  close?(): Promise<void>
}
