/**
 * What the Redis cache layers of the stores (permissions, sessions) share: their common options,
 * checked once, with the guarded calls built from them; reads of one key or many; and the
 * invalidation channel that tells the store which ids other instances changed, and when messages
 * may have been missed.
 */
import type { RedisClient } from '../peer-types.js'
import type { Clock } from '../types.js'
import { invalid, plainObject, positiveInteger, positiveNumber } from '../validate.js'
import { type CircuitBreaker, createCircuitBreaker } from './circuit-breaker.js'
import type { InvalidationListener } from './layered-cache.js'
import { createRedisCall, type RedisCall, redisReady } from './redis.js'
import { isRedisClient, mgetAcross } from './redis-cluster.js'
import {
  type ChannelSubscription,
  resolveSubscriptionOptions,
  type SubscriptionOptions,
  type SubscriptionStatus,
  subscribeChannel,
} from './subscription.js'

/**
 * The options of a Redis cache layer (`redisLayer`, `sessionRedisLayer`); each layer names its
 * keys and channel under `keyPrefix`, and its TTL defaults.
 */
export interface SharedLayerOptions extends SubscriptionOptions {
  /**
   * An ioredis client or Cluster, for reads and writes; `duplicate()`d once for the invalidation
   * channel (a Cluster: one of its nodes), never closed by the layer.
   *
   * Recommended client options, so that commands fail fast instead of queueing while Redis is away:
   * `{ enableOfflineQueue: false, commandTimeout: 200, maxRetriesPerRequest: 1 }`. With the offline
   * queue on, a write given up by the layer's deadline would still run after a reconnect.
   */
  readonly client: RedisClient
  /** Prefix of every key and of the invalidation channel. Default `'af:'`. */
  readonly keyPrefix?: string
  /** `EX` of an entry (never past a session's expiry). Default 1800 (permissions), 3600 (sessions). */
  readonly ttlSeconds?: number
  /** `EX` of an unknown (or inactive) id, capped at `ttlSeconds`. Default 30. */
  readonly negativeTtlSeconds?: number
  /** Deadline of each Redis call made by the layer, whatever the client's own settings. Default 250. */
  readonly timeoutMs?: number
  /** Circuit breaker: consecutive failures that open it (default 3) and for how long (default 5000 ms). */
  readonly breaker?: { readonly failureThreshold?: number; readonly openMs?: number }
  /**
   * Subscribe to invalidations from other instances. Default true. The subscription is
   * health-checked (`heartbeatIntervalMs`, `heartbeatTimeoutMs`: see `subscribeChannel`); while it
   * is down the store's local layers are emptied, and again once it is back.
   */
  readonly subscribe?: boolean
  /** Milliseconds since the epoch, for the circuit breaker and TTLs. Default `Date.now`. */
  readonly clock?: Clock
}

/** The options once checked, and the guarded calls over the client. */
export interface SharedLayerBase {
  readonly client: RedisClient
  readonly keyPrefix: string
  readonly ttlSeconds: number
  /** Capped at `ttlSeconds`. */
  readonly negativeTtlSeconds: number
  readonly timeoutMs: number
  readonly breaker: CircuitBreaker
  /** A read or a delete under the deadline and the breaker. */
  readonly guarded: RedisCall
  /** A write that must not land late (a fill over a newer record): timing out tears the connection down. */
  readonly guardedWrite: <T>(what: string, call: () => Promise<T>) => Promise<T>
  readonly heartbeat: Required<SubscriptionOptions>
}

/**
 * Checks the common options of a Redis cache layer (`where` names it in messages), applies
 * `defaults`, and builds its breaker and guarded calls.
 *
 * @example
 * const base = sharedLayerBase(options, 'redisLayer', { keyPrefix: 'af:', ttlSeconds: 1800, negativeTtlSeconds: 30, timeoutMs: 250 })
 */
export function sharedLayerBase(
  options: SharedLayerOptions,
  where: string,
  defaults: {
    readonly keyPrefix: string
    readonly ttlSeconds: number
    readonly negativeTtlSeconds: number
    readonly timeoutMs: number
  },
): SharedLayerBase {
  plainObject(options, 'options', '{ client: redis }', where)
  const client = options.client
  if (!isRedisClient(client)) {
    invalid(where, 'client', 'an ioredis client or Cluster', 'new Redis(url, options)')
  }
  const keyPrefix = options.keyPrefix ?? defaults.keyPrefix
  if (typeof keyPrefix !== 'string') invalid(where, 'keyPrefix', 'a string', "'af:'")
  const ttlSeconds = positiveInteger(
    options.ttlSeconds ?? defaults.ttlSeconds,
    'ttlSeconds',
    defaults.ttlSeconds,
    where,
  )
  const negativeTtlSeconds = positiveInteger(
    options.negativeTtlSeconds ?? defaults.negativeTtlSeconds,
    'negativeTtlSeconds',
    defaults.negativeTtlSeconds,
    where,
  )
  const timeoutMs = positiveNumber(
    options.timeoutMs ?? defaults.timeoutMs,
    'timeoutMs',
    defaults.timeoutMs,
    where,
  )
  const breaker = createCircuitBreaker({ ...options.breaker, clock: options.clock })
  const heartbeat = resolveSubscriptionOptions(options, where)
  const guarded = createRedisCall(client, breaker, timeoutMs)
  return {
    client,
    keyPrefix,
    ttlSeconds,
    negativeTtlSeconds: Math.min(ttlSeconds, negativeTtlSeconds),
    timeoutMs,
    breaker,
    guarded,
    guardedWrite: (what, call) => guarded(what, call, timeoutMs, true),
    heartbeat,
  }
}

/**
 * The raw values of `ids`, in order: one `GET` for one id, one `MGET` for several (on a Cluster,
 * one per slot: see `mgetAcross`).
 *
 * @example
 * const raw = await readKeys(base, ids, keyOf)
 */
export async function readKeys(
  base: Pick<SharedLayerBase, 'client' | 'guarded'>,
  ids: readonly string[],
  keyOf: (id: string) => string,
): Promise<(string | null)[]> {
  const { client, guarded } = base
  if (ids.length === 0) return []
  if (ids.length === 1) return [await guarded('GET', () => client.get(keyOf(ids[0]!)))]
  return guarded('MGET', () => mgetAcross(client, ids.map(keyOf)))
}

/** The invalidation channel of a layer, as the layered cache listens to it. */
export interface InvalidationChannel {
  subscribe(listener: InvalidationListener): () => void
  /** `undefined` when the layer does not subscribe. */
  readonly status: SubscriptionStatus | undefined
  /** Resolves once the channel is subscribed and the command connection is ready. */
  ready(): Promise<void>
  close(): void
}

/**
 * Subscribes to a layer's invalidation channel (unless `subscribe` is false): each message names
 * ids (`ids(text)`) that listeners drop. Invalidations published while not subscribed are lost:
 * listeners drop their local copies when the channel goes down (a reset, or a missed heartbeat)
 * and again once it is back.
 *
 * @example
 * const channel = invalidationChannel(base, 'af:invalidate', true, (text) => [decode(text)])
 */
export function invalidationChannel(
  base: Pick<SharedLayerBase, 'client' | 'heartbeat'>,
  channel: string,
  subscribe: boolean,
  ids: (text: string) => Iterable<string>,
): InvalidationChannel {
  const listeners = new Set<InvalidationListener>()
  let closed = false
  const resetAll = () => {
    for (const listener of listeners) listener.reset()
  }
  const subscription: ChannelSubscription | undefined = subscribe
    ? subscribeChannel(base.client, channel, base.heartbeat, {
        message(text) {
          for (const id of ids(text)) {
            for (const listener of listeners) listener.invalidated(id)
          }
        },
        subscribed: resetAll,
        lost: resetAll,
      })
    : undefined
  return {
    subscribe(listener) {
      listeners.add(listener)
      return () => {
        listeners.delete(listener)
      }
    },
    get status() {
      return subscription?.status
    },
    async ready() {
      await subscription?.ready()
      if (!closed) await redisReady(base.client)
    },
    close() {
      if (closed) return
      closed = true
      listeners.clear()
      subscription?.close()
    },
  }
}
