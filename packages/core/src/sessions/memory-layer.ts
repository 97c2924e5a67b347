/** The process-local session cache: the permission store's memory layer (an LRU with TTLs), holding sessions. */

import { type MemoryLayerOptions, memoryLayer } from '../permissions/store/memory-layer.js'
import type { PermissionRecord } from '../types.js'
import type { CachedSession, SessionLayer } from './layer.js'
import type { Session } from './record.js'

/** The session memory layer: answers synchronously. */
export interface SessionMemoryLayer extends SessionLayer {
  getSync(id: string): CachedSession
  get(id: string): CachedSession
  getMany(ids: readonly string[]): CachedSession[]
  set(session: Session): void
  setMany(entries: ReadonlyArray<readonly [id: string, value: Session | null]>): void
  delete(id: string): void
  clear(): void
  readonly size: number
}

/**
 * A process-local LRU of sessions (`max`, default 10 000). `ttlSeconds` (default 60) bounds how long
 * this instance may keep serving a session destroyed elsewhere if the invalidation message is lost
 * (a reconnect clears the layer); `negativeTtlSeconds` (default 30) how long an unknown or
 * destroyed id is remembered. Expiry is checked by the store on every read, whatever the TTL.
 *
 * @example
 * const store = createSessionStore({
 *   layers: [sessionMemoryLayer({ max: 50_000, ttlSeconds: 30 }), sessionRedisLayer({ client: redis })],
 *   source: postgresSessionSource({ pool }),
 * })
 */
export function sessionMemoryLayer(options: MemoryLayerOptions = {}): SessionMemoryLayer {
  // The memory layer stores values as given and never looks inside them: sessions fit as they are.
  const lru = memoryLayer(options)
  const get = (id: string) => lru.getSync(id) as unknown as CachedSession
  const put = (id: string, value: Session | null) =>
    lru.set(id, value as unknown as PermissionRecord | null)
  return {
    name: 'memory',
    shared: false,
    getSync: get,
    get,
    getMany: (ids) => ids.map(get),
    set: (session) => put(session.id, session),
    setMany(entries) {
      for (const [id, value] of entries) put(id, value)
    },
    delete: (id) => lru.delete(id),
    clear: () => lru.clear(),
    get size() {
      return lru.size
    },
    async close() {
      lru.clear()
    },
  }
}
