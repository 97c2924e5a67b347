/**
 * The session store: cache layers (memory, then Redis) over the `sessions` table, with the
 * permission store's shape: read-through with single flight, write-back to the layers above,
 * invalidation that reaches every instance. It is the `SessionSource` of `createAuth({ sessions })`.
 * The options are `store-options.ts`.
 */
import { randomBytes } from 'node:crypto'
import { LRUCache } from 'lru-cache'
import { AuthUnavailableError, UserInactiveError } from '../errors.js'
import { createLayeredCache, type LayeredCache } from '../infra/layered-cache.js'
import { isStorableId } from '../permissions/store/record.js'
import type { SessionSource } from '../types.js'
import { safeReporter } from '../warn-once.js'
import type { SessionLayer } from './layer.js'
import { sessionMemoryLayer } from './memory-layer.js'
import type { SessionDatabase } from './postgres-source.js'
import { isSessionId, type Session } from './record.js'
import {
  type ResolvedSessionStoreOptions,
  resolveSessionStoreOptions,
  type SessionStoreOptions,
  sessionTtlSeconds,
} from './store-options.js'

/** A {@link SessionSource} that also creates and destroys sessions. */
export interface SessionStore extends SessionSource {
  /**
   * Creates a session for an active user: a 256-bit random id (base64url, 43 characters), written
   * to the cache layers and the database concurrently. Rejects with `UserInactiveError` for an
   * unknown or inactive user, `AuthUnavailableError` when the database cannot be reached.
   */
  create(userId: string, options?: { readonly ttlSeconds?: number }): Promise<Session>
  /**
   * The live session (`userActive: false` when its user has been deactivated), or `null`
   * (unknown, expired, destroyed). Rejects when no layer has a copy confirmed within
   * `revalidateSeconds` and the database is unreachable.
   */
  get(id: string): Promise<Session | null>
  /** Records activity: at most one database write per session per `touchIntervalSeconds`. */
  touch(id: string): void | Promise<void>
  /** Destroys the session everywhere: database, Redis (a tombstone), every instance's memory. */
  destroy(id: string): Promise<void>
  /** Destroys every session of a user ("log out everywhere"); resolves how many there were. */
  destroyAll(userId: string): Promise<number>
  /** Resolves when every layer is operational (the invalidation channel is subscribed). */
  ready(): Promise<void>
  /** Waits for pending cache writes, then closes the layers. The database pool is not ended. */
  close(): Promise<void>
}

/** `onError` made safe to call; by default one process warning per layer and operation. */
function layerReporter(onError: SessionStoreOptions['onError']) {
  const report = safeReporter(onError, 'AUTHFRAMEWORK_SESSION_LAYER_FAILURE', {
    key: ({ layer, operation }) => `${layer}:${operation}`,
    message: ({ layer, operation }, kind) =>
      `Session store: the ${layer} layer failed on ${operation} (${kind}); the store goes on without it.`,
  })
  return (error: unknown, layer: string, operation: string) => report(error, { layer, operation })
}

/** The layered cache of sessions over the database; the store stamps each confirmation. */
function sessionCache(
  o: ResolvedSessionStoreOptions,
  layers: readonly SessionLayer[],
): LayeredCache<Session> {
  const { source, clock, revalidateMs, changes } = o
  return createLayeredCache<Session>({
    layers,
    source: {
      async lookup(id) {
        const now = clock()
        const found = await source.get(id, now)
        // the store stamps the confirmation, whatever the source: it is what bounds every cached copy
        return found === null ? null : Object.freeze({ ...found, checkedAt: now })
      },
    },
    maxBatchSize: 500,
    // A tombstone, or a session the database confirmed lately; an older copy is confirmed again.
    servable: (value) => value === null || clock() - value.checkedAt < revalidateMs,
    changes: changes && { log: changes, topic: 'sessions' },
    report: layerReporter(o.onError),
  })
}

/**
 * Creates a session in the database and, concurrently, in every layer: the id is unknown to anyone
 * until this resolves, so writing the caches before the database commits exposes nothing. When
 * the database refuses (or fails), the layers' copies are deleted again.
 */
async function createSession(
  parts: {
    readonly source: SessionDatabase
    readonly layers: readonly SessionLayer[]
    readonly cache: LayeredCache<Session>
  },
  userId: string,
  ttlSeconds: number,
  now: number,
): Promise<Session> {
  const { source, layers, cache } = parts
  const session: Session = Object.freeze({
    id: randomBytes(32).toString('base64url'),
    userId,
    createdAt: now,
    expiresAt: now + ttlSeconds * 1000,
    // the insert below succeeds only for an active user
    checkedAt: now,
    userActive: true,
  })
  const [stored] = await Promise.allSettled([
    source.insert(session),
    ...layers.map((layer) => cache.attempt(layer, 'write', () => layer.set(session))),
  ])
  if (stored.status === 'rejected' || !stored.value) {
    for (const layer of layers) {
      void cache.attempt(layer, 'delete', () => layer.delete(session.id))
    }
    if (stored.status === 'rejected') throw stored.reason
    throw new UserInactiveError('No active user has this id; no session was created.')
  }
  return session
}

/**
 * Creates a session store.
 *
 * @example
 * const sessions = createSessionStore({
 *   layers: [sessionMemoryLayer({ ttlSeconds: 30 }), sessionRedisLayer({ client: redis, keyPrefix: 'af:' })],
 *   source: postgresSessionSource({ pool }),
 * })
 * const session = await sessions.create(user.id) // after checking the password
 * res.setHeader('Set-Cookie', serializeSessionCookie(session))
 * app.use(authMiddleware({ ...options, sessions: { store: sessions, cookieName: 'sid' } }))
 * await sessions.destroy(session.id) // logout: every instance refuses it
 */
export function createSessionStore(options: SessionStoreOptions): SessionStore {
  const o = resolveSessionStoreOptions(options)
  const { source, clock, touchIntervalMs } = o
  const layers: readonly SessionLayer[] = o.layers ?? [sessionMemoryLayer({ clock })]
  const cache = sessionCache(o, layers)
  // When this instance last wrote last_activity, per session; entries expire with the interval.
  const touched = new LRUCache<string, true>({
    max: o.maxTouched,
    ttl: touchIntervalMs,
    ttlResolution: 0,
    perf: { now: clock },
  })
  let closed = false

  const live = (value: Session | null): Session | null =>
    value !== null && value.expiresAt > clock() ? value : null

  function get(id: string): Promise<Session | null> {
    if (closed) return Promise.reject(new AuthUnavailableError('The session store is closed.'))
    if (!isSessionId(id)) return Promise.resolve(null)
    const cached = cache.peek(id)
    if (cached !== undefined) return Promise.resolve(live(cached))
    return cache.fetch(id).then(live)
  }

  function invalidateShared(
    sessions: ReadonlyArray<{ readonly id: string; readonly expiresAt?: number }>,
  ): Promise<unknown> {
    return cache.eachShared('invalidate', (layer) => {
      const shared = layer as SessionLayer
      return shared.invalidate
        ? shared.invalidate(sessions)
        : Promise.all(sessions.map(({ id }) => shared.delete(id)))
    })
  }

  function tombstoneLocal(id: string): void {
    cache.drop(id)
    for (const layer of layers) {
      if (!layer.shared) void cache.attempt(layer, 'write', () => layer.setMany?.([[id, null]]))
    }
  }

  return {
    async create(userId, createOptions = {}) {
      if (closed) throw new AuthUnavailableError('The session store is closed.')
      if (typeof userId !== 'string' || userId === '' || !isStorableId(userId)) {
        throw new TypeError('sessions.create(userId): userId must be a non-empty string.')
      }
      const ttlSeconds = sessionTtlSeconds(createOptions.ttlSeconds ?? o.ttlSeconds, o.ttlSeconds)
      const session = await createSession({ source, layers, cache }, userId, ttlSeconds, clock())
      touched.set(session.id, true) // last_activity was just written
      return session
    },
    get,
    touch(id) {
      if (closed || !isSessionId(id) || touched.has(id)) return
      touched.set(id, true)
      const now = clock()
      return source.touch(id, now, now - touchIntervalMs).then(
        () => {},
        (error: unknown) => {
          touched.delete(id)
          throw error
        },
      )
    },
    async destroy(id) {
      if (!isSessionId(id)) return
      tombstoneLocal(id)
      let destroyed: Awaited<ReturnType<SessionDatabase['deactivate']>> = null
      let stored: unknown
      try {
        destroyed = await source.deactivate(id)
      } catch (error) {
        stored = error
      }
      // Even when the database failed: every instance drops its copy now.
      const shared = await invalidateShared([destroyed ?? { id }])
      touched.delete(id)
      if (stored !== undefined) throw stored
      if (shared !== undefined) {
        throw new AuthUnavailableError(
          'The session is destroyed but Redis could not be told; other instances may serve it from memory until their cache TTL.',
          { cause: shared },
        )
      }
    },
    async destroyAll(userId) {
      if (typeof userId !== 'string' || userId === '') {
        throw new TypeError('sessions.destroyAll(userId): userId must be a non-empty string.')
      }
      if (!isStorableId(userId)) return 0
      const destroyed = await source.deactivateUser(userId)
      for (const { id } of destroyed) tombstoneLocal(id)
      const shared = await invalidateShared(destroyed)
      if (shared !== undefined) {
        throw new AuthUnavailableError(
          'The sessions are destroyed but Redis could not be told; other instances may serve them from memory until their cache TTL.',
          { cause: shared },
        )
      }
      return destroyed.length
    },
    ready: () => cache.ready(),
    async close() {
      if (closed) return
      closed = true
      await cache.close()
    },
  }
}
