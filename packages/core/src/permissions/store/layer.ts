/**
 * The contract between the permission store and one cache layer (memory, Redis, or your own).
 * A layer stores, per user id, either a {@link PermissionRecord} or `null` ("unknown or inactive",
 * a negative entry); each layer applies its own TTLs.
 */
import type { ChangeLog } from '../../infra/change-log.js'
import type { PermissionRecord } from '../../types.js'

/** A value or a promise of it: layers without I/O answer synchronously. */
export type MaybePromise<T> = T | Promise<T>

/** One layer's answer for an id: a record, `null` (cached as unknown or inactive), or `undefined` (miss). */
export type CachedValue = PermissionRecord | null | undefined

/** Told by a shared layer when another instance invalidated an id, or when messages may have been lost. */
export interface InvalidationListener {
  /** Drop `id` from process-local layers. */
  invalidated(id: string): void
  /** The invalidation channel was (re)established: invalidations may have been missed, drop everything local. */
  reset(): void
}

/**
 * A cache layer. Methods may reject on infrastructure failure; the store then treats the layer as a
 * miss and asks the next one, so a failing cache never fails a lookup by itself.
 */
export interface CacheLayer {
  /** Short name used in error reports (`memory`, `redis`). */
  readonly name: string
  /** True when every instance sees the same data (Redis); false for a process-local layer. */
  readonly shared: boolean
  /** For layers that answer without I/O: lets the store serve a hit without batching or awaiting. */
  getSync?(id: string): CachedValue
  get(id: string): MaybePromise<CachedValue>
  /** Answers in the order of `ids`; a shared layer reads them in one round trip. */
  getMany(ids: readonly string[]): MaybePromise<readonly CachedValue[]>
  set(id: string, value: PermissionRecord | null): MaybePromise<void>
  /** Writes several entries (pipelined for a remote layer), each with the layer's TTL for its kind. */
  setMany(
    entries: ReadonlyArray<readonly [id: string, value: PermissionRecord | null]>,
  ): MaybePromise<void>
  delete(id: string): MaybePromise<void>
  /** Drops every entry of a process-local layer. */
  clear?(): void
  /** Shared layers: delete `id` and tell every subscribed instance to drop it from their local layers. */
  invalidate?(id: string): Promise<void>
  /** Shared layers: subscribe to invalidations from other instances; returns the unsubscribe function. */
  subscribe?(listener: InvalidationListener): () => void
  /**
   * Shared layers: stamp every write with the change log's version, and answer a copy older than
   * the latest change of its id as a miss (the store then reads the source and writes it again).
   * The store calls it when it is given a change log.
   */
  followChanges?(changes: ChangeLog): void
  /** Resolves once the layer is fully operational (e.g. its invalidation channel is subscribed). */
  ready?(): Promise<void>
  /** Releases what the layer owns (never a client it was given). */
  close?(): Promise<void>
}
