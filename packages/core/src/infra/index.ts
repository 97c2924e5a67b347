/**
 * What the stores share: deadlines, circuit breakers, PostgreSQL pools and migrations, the Redis
 * subscription (its heartbeat options and status) and the change log. Re-exported by the core entry.
 */

export { sweepChanges } from '../sweep.js'
export {
  CHANGE_LOG_DEFAULTS,
  type ChangeListener,
  type ChangeLog,
  type ChangeLogOptions,
  type ChangeTopic,
  createChangeLog,
} from './change-log.js'
export {
  CIRCUIT_BREAKER_DEFAULTS,
  type CircuitBreaker,
  type CircuitBreakerOptions,
  CircuitOpenError,
  type CircuitState,
  createCircuitBreaker,
} from './circuit-breaker.js'
export { TimeoutError } from './deadline.js'
export {
  MIGRATION_LOCK_KEY,
  MIGRATIONS_DIRECTORY,
  type MigrateOptions,
  type MigrateResult,
  type MigrationPool,
  migrate,
} from './migrate.js'
export {
  createPostgresRunner,
  POSTGRES_RUNNER_DEFAULTS,
  type PostgresQueryable,
  type PostgresRunner,
  type PostgresRunnerOptions,
  type PostgresRunnerStats,
  type PostgresTransaction,
  postgresRunner,
} from './postgres.js'
export { PostgresBusyError, PostgresCommitUnknownError } from './postgres-failures.js'
export {
  createPostgresPool,
  endPostgresPool,
  holdConnection,
  POSTGRES_POOL_DEFAULTS,
  type PostgresPoolOptions,
  resolvePostgresPoolConfig,
} from './postgres-pool.js'
export { type Closable, type ShutdownOptions, type ShutdownReport, shutdown } from './shutdown.js'
export {
  SUBSCRIPTION_DEFAULTS,
  type SubscriptionOptions,
  type SubscriptionState,
  type SubscriptionStatus,
} from './subscription.js'
