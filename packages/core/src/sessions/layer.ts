/**
 * The contract between the session store and one cache layer: a layer of the shared layered cache
 * (`infra/layered-cache.ts`) holding sessions, with the two writes sessions add: an unconditional
 * one at creation, and destroys that leave tombstones a read-through write never replaces.
 */
import type { Layer } from '../infra/layered-cache.js'
import type { MaybePromise } from '../util.js'
import type { Session } from './record.js'

/** One layer's answer: a session, `null` (destroyed or unknown, cached), or `undefined` (miss). */
export type CachedSession = Session | null | undefined

/**
 * A session cache layer. `setMany` writes what was read from the layers below; in a shared layer it
 * never replaces a tombstone, and `delete` drops a cached copy but keeps a tombstone.
 */
export interface SessionLayer extends Layer<Session> {
  /** A new session (`create`). */
  set(session: Session): MaybePromise<void>
  delete(id: string): MaybePromise<void>
  /**
   * Shared layers: replaces the sessions with tombstones (kept until `expiresAt`, when known) and
   * tells every subscribed instance to drop them.
   */
  invalidate?(
    sessions: ReadonlyArray<{ readonly id: string; readonly expiresAt?: number }>,
  ): Promise<void>
}
