/**
 * Server-side sessions: the store (memory → Redis → PostgreSQL), its layers and source, the
 * cookie helpers and the expiry sweep. Re-exported by the core entry.
 */
export { sweepExpiredSessions } from '../sweep.js'
export { clearSessionCookie, type SessionCookieOptions, serializeSessionCookie } from './cookie.js'
export type { CachedSession, SessionLayer } from './layer.js'
export { type SessionMemoryLayer, sessionMemoryLayer } from './memory-layer.js'
export {
  type DestroyedSession,
  type PostgresSessionSourceOptions,
  postgresSessionSource,
  SESSION_STATEMENTS,
  type SessionDatabase,
} from './postgres-source.js'
export { isSessionId, type Session } from './record.js'
export {
  SESSION_REDIS_LAYER_DEFAULTS,
  type SessionRedisLayer,
  type SessionRedisLayerOptions,
  sessionRedisLayer,
} from './redis-layer.js'
export { createSessionStore, type SessionStore } from './store.js'
export { SESSION_STORE_DEFAULTS, type SessionStoreOptions } from './store-options.js'
