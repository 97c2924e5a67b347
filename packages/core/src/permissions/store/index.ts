/**
 * The permission store: memory and Redis cache layers over a PostgreSQL (or function) source,
 * the schema migrations, and the pieces they are made of. Re-exported by the core entry.
 */
export {
  CIRCUIT_BREAKER_DEFAULTS,
  type CircuitBreaker,
  type CircuitBreakerOptions,
  CircuitOpenError,
  type CircuitState,
  createCircuitBreaker,
} from './circuit-breaker.js'
export type { CachedValue, CacheLayer, InvalidationListener, MaybePromise } from './layer.js'
export {
  MEMORY_LAYER_DEFAULTS,
  type MemoryLayer,
  type MemoryLayerOptions,
  memoryLayer,
} from './memory-layer.js'
export {
  MIGRATION_LOCK_KEY,
  MIGRATIONS_DIRECTORY,
  type MigrateOptions,
  type MigrateResult,
  type MigrationPool,
  migrate,
} from './migrate.js'
export {
  createPostgresPool,
  POSTGRES_POOL_DEFAULTS,
  type PostgresPoolOptions,
  resolvePostgresPoolConfig,
} from './postgres-pool.js'
export {
  PERMISSION_STATEMENTS,
  PERMISSIONS_MANY_QUERY,
  PERMISSIONS_QUERY,
  POSTGRES_SOURCE_DEFAULTS,
  type PostgresQueryable,
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
export { TimeoutError } from './timeout.js'
