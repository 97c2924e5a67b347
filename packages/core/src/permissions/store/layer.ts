/**
 * The contract between the permission store and one cache layer (memory, Redis, or your own).
 * A layer stores, per user id, either a {@link PermissionRecord} or `null` ("unknown or inactive",
 * a negative entry); each layer applies its own TTLs. The store reads through them with the
 * shared layered cache (`infra/layered-cache.ts`).
 */
import type { InvalidationListener, Layer } from '../../infra/layered-cache.js'
import type { PermissionRecord } from '../../types.js'
import type { MaybePromise } from '../../util.js'

export type { InvalidationListener, MaybePromise }

/** One layer's answer for an id: a record, `null` (cached as unknown or inactive), or `undefined` (miss). */
export type CachedValue = PermissionRecord | null | undefined

/**
 * A permission cache layer. Methods may reject on infrastructure failure; the store then treats the
 * layer as a miss and asks the next one, so a failing cache never fails a lookup by itself.
 */
export interface CacheLayer extends Layer<PermissionRecord> {
  get(id: string): MaybePromise<CachedValue>
  set(id: string, value: PermissionRecord | null): MaybePromise<void>
  /** Writes several entries (pipelined for a remote layer), each with the layer's TTL for its kind. */
  setMany(
    entries: ReadonlyArray<readonly [id: string, value: PermissionRecord | null]>,
  ): MaybePromise<void>
  delete(id: string): MaybePromise<void>
  /** Shared layers: delete `id` and tell every subscribed instance to drop it from their local layers. */
  invalidate?(id: string): Promise<void>
}
