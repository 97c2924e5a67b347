/**
 * The permission store: memory and Redis cache layers over a PostgreSQL (or function) source.
 * Re-exported by the core entry.
 */
export type { CachedValue, CacheLayer, InvalidationListener, MaybePromise } from './layer.js'
export {
  MEMORY_LAYER_DEFAULTS,
  type MemoryLayer,
  type MemoryLayerOptions,
  memoryLayer,
} from './memory-layer.js'
export {
  PERMISSION_STATEMENTS,
  PERMISSIONS_MANY_QUERY,
  PERMISSIONS_QUERY,
  POSTGRES_SOURCE_DEFAULTS,
  type PostgresSource,
  type PostgresSourceOptions,
  postgresSource,
} from './postgres-source.js'
export {
  encodeKeyPart,
  REDIS_LAYER_DEFAULTS,
  type RedisLayer,
  type RedisLayerOptions,
  redisLayer,
} from './redis-layer.js'
export type { BatchPermissionSource, PermissionLookup } from './source.js'
export {
  createPermissionStore,
  type LayerErrorContext,
  PERMISSION_STORE_DEFAULTS,
  type PermissionStore,
  type PermissionStoreOptions,
} from './store.js'
