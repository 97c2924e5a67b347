/**
 * Infrastructure health, read at scrape time: the application hands its metrics the components it
 * wired (`metrics.watch`), and every `snapshot()` or Prometheus scrape reads their getters (the
 * PostgreSQL runner's stats, the change log's lag, the revocation list's state, the Redis layers'
 * breakers and subscriptions). Nothing is recorded on the request path.
 */
import type { ChangeLog } from '../infra/change-log.js'
import type { CircuitState } from '../infra/circuit-breaker.js'
import {
  existingPostgresRunner,
  type PostgresQueryable,
  type PostgresRunner,
  type PostgresRunnerStats,
} from '../infra/postgres.js'
import type { SubscriptionStatus } from '../infra/subscription.js'
import type { RevocationListState } from '../revocation/distributed.js'

/** What the metrics read of a Redis layer: `redisLayer(...)` or `sessionRedisLayer(...)`. */
export interface WatchedRedisLayer {
  readonly circuit: CircuitState
  /** `undefined` when the layer does not subscribe (`subscribe: false`). */
  readonly subscription: SubscriptionStatus | undefined
}

/** What the metrics read of the distributed revocation list (`createRevocationList`). */
export interface WatchedRevocationList {
  readonly state: RevocationListState
  readonly size: number
  readonly unpublished: number
  readonly subscription: SubscriptionStatus
}

/**
 * The components an application wired, each optional, for `metrics.watch` (`AuthMetrics.watch`).
 *
 * @example
 * metrics.watch({ postgres: pool, changes, revocation, permissionsRedis: layer })
 */
export interface InfrastructureComponents {
  /** A `pg` pool (its query runner is looked up at each read, never created) or its runner. */
  readonly postgres?: PostgresQueryable | PostgresRunner | undefined
  /** The change log (`createChangeLog`). */
  readonly changes?: Pick<ChangeLog, 'version' | 'lagMs'> | undefined
  /** The distributed revocation list (`createRevocationList`). */
  readonly revocation?: WatchedRevocationList | undefined
  /** The permission store's Redis layer (the `redisLayer(...)` given to the store, not the store). */
  readonly permissionsRedis?: WatchedRedisLayer | undefined
  /** The session store's Redis layer (`sessionRedisLayer(...)`). */
  readonly sessionsRedis?: WatchedRedisLayer | undefined
}

/** `snapshot().infrastructure`: one entry per watched component, read when the snapshot is taken. */
export interface InfrastructureSnapshot {
  /** The runner's `stats()`; zero counters and a closed breaker while no component used the pool. */
  readonly postgres?: PostgresRunnerStats
  /** `lagMs`: since the log was last read; `null` before its first read. */
  readonly changes?: { readonly version: number; readonly lagMs: number | null }
  readonly revocation?: {
    readonly state: RevocationListState
    readonly size: number
    readonly unpublished: number
    readonly subscription: SubscriptionStatus
  }
  readonly permissionsRedis?: RedisLayerHealth
  readonly sessionsRedis?: RedisLayerHealth
}

/** A Redis layer in the snapshot: its breaker, and its subscription unless it has none. */
export interface RedisLayerHealth {
  readonly circuit: CircuitState
  readonly subscription?: SubscriptionStatus
}

type Key = keyof InfrastructureComponents
const KEYS: readonly Key[] = [
  'postgres',
  'changes',
  'revocation',
  'permissionsRedis',
  'sessionsRedis',
]

/** What each component must have, and the fix named when it has not. */
const SHAPES: Record<Key, [check: (value: object) => boolean, expected: string]> = {
  postgres: [
    (v) => typeof (v as PostgresRunner).stats === 'function' || 'query' in v,
    'a pg Pool or its runner (createPostgresRunner(pool))',
  ],
  changes: [(v) => 'lagMs' in v && 'version' in v, 'the change log (createChangeLog(...))'],
  revocation: [
    (v) => 'unpublished' in v && 'subscription' in v && 'state' in v,
    'the distributed revocation list (createRevocationList(...))',
  ],
  permissionsRedis: [
    (v) => 'circuit' in v && 'subscription' in v,
    'the redisLayer(...) given to the permission store (not the store)',
  ],
  sessionsRedis: [
    (v) => 'circuit' in v && 'subscription' in v,
    'the sessionRedisLayer(...) given to the session store (not the store)',
  ],
}

function postgresStats(target: PostgresQueryable | PostgresRunner): PostgresRunnerStats {
  const runner =
    typeof (target as PostgresRunner).stats === 'function'
      ? (target as PostgresRunner)
      : existingPostgresRunner(target as PostgresQueryable)
  if (runner !== undefined) return runner.stats()
  // no component has used the pool yet: nothing ran through a runner; the pool's own counts
  const pool = target as { totalCount?: number; idleCount?: number; waitingCount?: number }
  return {
    breaker: 'closed',
    waiting: 0,
    active: 0,
    timeouts: 0,
    refusedBusy: 0,
    refusedOpen: 0,
    destroyed: 0,
    pool:
      typeof pool.totalCount === 'number'
        ? { total: pool.totalCount, idle: pool.idleCount ?? 0, waiting: pool.waitingCount ?? 0 }
        : undefined,
  }
}

function redisHealth(layer: WatchedRedisLayer): RedisLayerHealth {
  const subscription = layer.subscription
  return subscription === undefined
    ? { circuit: layer.circuit }
    : { circuit: layer.circuit, subscription }
}

/** The watched components of one metrics object: `watch` adds, `read` takes the snapshot. */
export interface InfrastructureWatch {
  watch(components: InfrastructureComponents): () => void
  read(): InfrastructureSnapshot
}

/** Holds what `metrics.watch` was given; checks it at once (a `TypeError` naming the fix). */
export function createInfrastructureWatch(): InfrastructureWatch {
  const watched: { -readonly [K in Key]?: NonNullable<InfrastructureComponents[K]> } = {}
  return {
    watch(components) {
      if (typeof components !== 'object' || components === null) {
        throw new TypeError('metrics.watch(components): components must be an object.')
      }
      const added: Key[] = []
      for (const [key, value] of Object.entries(components)) {
        if (!(KEYS as readonly string[]).includes(key)) {
          throw new TypeError(
            `metrics.watch: unknown component '${key}'; expected ${KEYS.join(', ')}.`,
          )
        }
        if (value === undefined) continue
        const [check, expected] = SHAPES[key as Key]
        if (typeof value !== 'object' || value === null || !check(value)) {
          throw new TypeError(`metrics.watch: ${key} must be ${expected}.`)
        }
        if (watched[key as Key] !== undefined) {
          throw new TypeError(
            `metrics.watch: ${key} is already watched by these metrics; give each instance its own createMetrics().`,
          )
        }
        added.push(key as Key)
      }
      for (const key of added) Object.assign(watched, { [key]: components[key] })
      return () => {
        for (const key of added) if (watched[key] === components[key]) delete watched[key]
      }
    },
    read() {
      const { postgres, changes, revocation, permissionsRedis, sessionsRedis } = watched
      const lagMs = changes?.lagMs
      return {
        ...(postgres && { postgres: postgresStats(postgres) }),
        ...(changes && {
          changes: {
            version: changes.version,
            lagMs: Number.isFinite(lagMs) ? (lagMs as number) : null,
          },
        }),
        ...(revocation && {
          revocation: {
            state: revocation.state,
            size: revocation.size,
            unpublished: revocation.unpublished,
            subscription: revocation.subscription,
          },
        }),
        ...(permissionsRedis && { permissionsRedis: redisHealth(permissionsRedis) }),
        ...(sessionsRedis && { sessionsRedis: redisHealth(sessionsRedis) }),
      }
    },
  }
}
