/**
 * The shared session cache: sessions in Redis with a per-call deadline and a circuit breaker;
 * destroyed sessions become tombstones that a late read-through write cannot replace; destroys
 * reach every instance over pub/sub.
 */

import type { ChangeLog } from '../infra/change-log.js'
import { createCircuitBreaker } from '../infra/circuit-breaker.js'
import type { InvalidationListener } from '../infra/layered-cache.js'
import { createRedisCall, execBatch, redisReady } from '../infra/redis.js'
import {
  resolveSubscriptionOptions,
  type SubscriptionOptions,
  type SubscriptionStatus,
  subscribeChannel,
} from '../infra/subscription.js'
import type { Redis } from '../peer-types.js'
import type { Clock } from '../types.js'
import type { CachedSession, SessionLayer } from './layer.js'
import { decodeSession, encodeSession, isSessionId, type Session } from './record.js'

export interface SessionRedisLayerOptions extends SubscriptionOptions {
  /**
   * An ioredis client (not a Cluster); `duplicate()`d once for the invalidation channel, never
   * closed by the layer. Recommended: `{ enableOfflineQueue: false, commandTimeout: 200, maxRetriesPerRequest: 1 }`.
   */
  readonly client: Redis
  /** Prefix of every key (`${keyPrefix}sess:<id>`) and of the channel (`${keyPrefix}sessions:invalidate`). Default `'af:'`. */
  readonly keyPrefix?: string
  /** Longest a session (or a tombstone) stays in Redis; never past the session's expiry. Default 3600. */
  readonly ttlSeconds?: number
  /** How long an unknown id is remembered. Default 30. */
  readonly negativeTtlSeconds?: number
  /** Deadline of each Redis call. Default 250. */
  readonly timeoutMs?: number
  /** Circuit breaker: consecutive failures that open it (default 3) and for how long (default 5000 ms). */
  readonly breaker?: { readonly failureThreshold?: number; readonly openMs?: number }
  /**
   * Subscribe to invalidations from other instances. Default true; health-checked by a heartbeat
   * (`heartbeatIntervalMs`, `heartbeatTimeoutMs`: see `subscribeChannel`).
   */
  readonly subscribe?: boolean
  /** Milliseconds since the epoch. Default `Date.now`. */
  readonly clock?: Clock
}

/** Default options of {@link sessionRedisLayer}. */
export const SESSION_REDIS_LAYER_DEFAULTS = Object.freeze({
  keyPrefix: 'af:',
  ttlSeconds: 3600,
  negativeTtlSeconds: 30,
  timeoutMs: 250,
})

/** The session Redis layer, with its key scheme visible for operations and tests. */
export interface SessionRedisLayer extends SessionLayer {
  get(id: string): Promise<CachedSession>
  getMany(ids: readonly string[]): Promise<CachedSession[]>
  set(session: Session): Promise<void>
  setMany(entries: ReadonlyArray<readonly [id: string, value: Session | null]>): Promise<void>
  delete(id: string): Promise<void>
  invalidate(
    sessions: ReadonlyArray<{ readonly id: string; readonly expiresAt?: number }>,
  ): Promise<void>
  subscribe(listener: InvalidationListener): () => void
  /** Resolves once the channel is subscribed and the command connection is ready. */
  ready(): Promise<void>
  close(): Promise<void>
  /** The invalidation subscription (`undefined` with `subscribe: false`): its state and heartbeat misses. */
  readonly subscription: SubscriptionStatus | undefined
  keyOf(id: string): string
  readonly channel: string
}

/** SET key value EX ttl, unless the key holds a tombstone (`null`). */
const FILL_UNLESS_TOMBSTONE = `if redis.call('GET', KEYS[1]) == 'null' then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return 1`

/** DEL key, unless it holds a tombstone: a destroy is not a cached copy. */
const DELETE_UNLESS_TOMBSTONE = `if redis.call('GET', KEYS[1]) == 'null' then return 0 end
return redis.call('DEL', KEYS[1])`

function positiveInteger(value: unknown, name: string, example: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new TypeError(`sessionRedisLayer: ${name} must be a positive integer, e.g. ${example}.`)
  }
  return value
}

/**
 * A Redis session layer over an ioredis client.
 *
 * @example
 * const layer = sessionRedisLayer({ client: redis, keyPrefix: 'af:' })
 */
export function sessionRedisLayer(options: SessionRedisLayerOptions): SessionRedisLayer {
  const client = options?.client
  if (typeof client?.get !== 'function' || typeof client.duplicate !== 'function') {
    throw new TypeError(
      'sessionRedisLayer: client must be an ioredis client (new Redis(url, options)).',
    )
  }
  const d = SESSION_REDIS_LAYER_DEFAULTS
  const keyPrefix = options.keyPrefix ?? d.keyPrefix
  if (typeof keyPrefix !== 'string')
    throw new TypeError("sessionRedisLayer: keyPrefix must be a string, e.g. 'af:'.")
  const ttlSeconds = positiveInteger(options.ttlSeconds ?? d.ttlSeconds, 'ttlSeconds', d.ttlSeconds)
  const negativeTtlSeconds = Math.min(
    ttlSeconds,
    positiveInteger(options.negativeTtlSeconds ?? d.negativeTtlSeconds, 'negativeTtlSeconds', 30),
  )
  const timeoutMs = positiveInteger(options.timeoutMs ?? d.timeoutMs, 'timeoutMs', d.timeoutMs)
  const clock = options.clock ?? Date.now
  const breaker = createCircuitBreaker({ ...options.breaker, clock })
  const heartbeat = resolveSubscriptionOptions(options, 'sessionRedisLayer')
  const channel = `${keyPrefix}sessions:invalidate`
  // Session ids are base64url: safe in a key as they are.
  const keyOf = (id: string) => `${keyPrefix}sess:${id}`

  /** Seconds to keep something about a session expiring at `expiresAt`; 0: nothing to keep. */
  function ttlUntil(expiresAt: number | undefined): number {
    if (expiresAt === undefined) return ttlSeconds
    const left = Math.ceil((expiresAt - clock()) / 1000)
    return left <= 0 ? 0 : Math.min(ttlSeconds, left)
  }

  let changes: ChangeLog | undefined

  /** A copy older than a change of its session is a miss: the store reads the database again. */
  function decode(id: string, raw: string | null | undefined): CachedSession {
    const entry = typeof raw === 'string' ? decodeSession(raw) : undefined
    if (entry === undefined) return undefined
    if (entry.value !== null && changes?.isCurrent('sessions', id, entry.version) === false) {
      return undefined
    }
    return entry.value
  }

  const guarded = createRedisCall(client, breaker, timeoutMs)
  const get = async (id: string) => decode(id, await guarded('GET', () => client.get(keyOf(id))))
  /** A write that must not land late (over a tombstone): timing out tears the connection down. */
  const guardedWrite = <T>(what: string, call: () => Promise<T>) =>
    guarded(what, call, timeoutMs, true)

  const listeners = new Set<InvalidationListener>()
  let closed = false
  const subscription =
    options.subscribe === false
      ? undefined
      : subscribeChannel(client, channel, heartbeat, {
          message(text) {
            for (const id of text.split(' ')) {
              if (!isSessionId(id)) continue
              for (const listener of listeners) listener.invalidated(id)
            }
          },
          // Invalidations published while we were not subscribed are lost: drop local copies when
          // the channel goes down (what is read meanwhile comes from Redis or the database) and
          // again once it is back.
          subscribed() {
            for (const listener of listeners) listener.reset()
          },
          lost() {
            for (const listener of listeners) listener.reset()
          },
        })

  return {
    name: 'redis',
    shared: true,
    channel,
    keyOf,
    get,
    async getMany(ids) {
      if (ids.length === 0) return []
      if (ids.length === 1) return [await get(ids[0]!)]
      const raw = await guarded('MGET', () => client.mget(ids.map(keyOf)))
      return ids.map((id, i) => decode(id, raw[i]))
    },
    async set(session) {
      const ttl = ttlUntil(session.expiresAt)
      if (ttl === 0) return
      const text = encodeSession(session, changes?.version)
      await guardedWrite('SET', () => client.set(keyOf(session.id), text, 'EX', ttl))
    },
    followChanges(log) {
      changes = log
    },
    async setMany(entries) {
      // A fresher read replaces a copy due for confirmation, but never a tombstone: a destroy
      // written in the meantime wins over this (older) read. The version is the one read before
      // writing: a change heard since the read began made the store drop the write.
      const version = changes?.version
      const fills: [key: string, text: string, ttl: number][] = []
      for (const [id, value] of entries) {
        const ttl = value === null ? negativeTtlSeconds : ttlUntil(value.expiresAt)
        if (ttl > 0) fills.push([keyOf(id), encodeSession(value, version), ttl])
      }
      if (fills.length === 0) return
      await guardedWrite('EVAL fill', async () => {
        const pipeline = client.pipeline()
        for (const [key, text, ttl] of fills)
          pipeline.eval(FILL_UNLESS_TOMBSTONE, 1, key, text, ttl)
        const results = await pipeline.exec()
        const failed = results?.find(([error]) => error !== null)
        if (failed) throw failed[0]
      })
    },
    async delete(id) {
      await guarded('EVAL delete', () => client.eval(DELETE_UNLESS_TOMBSTONE, 1, keyOf(id)))
    },
    async invalidate(sessions) {
      if (sessions.length === 0) return
      await guarded('SET+PUBLISH', async () => {
        const batch = client.multi()
        for (const { id, expiresAt } of sessions) {
          const ttl = ttlUntil(expiresAt)
          if (ttl === 0) batch.del(keyOf(id))
          else batch.set(keyOf(id), 'null', 'EX', ttl)
        }
        batch.publish(channel, sessions.map(({ id }) => id).join(' '))
        await execBatch(batch)
      })
    },
    subscribe(listener) {
      listeners.add(listener)
      return () => {
        listeners.delete(listener)
      }
    },
    get subscription() {
      return subscription?.status
    },
    async ready() {
      await subscription?.ready()
      if (!closed) await redisReady(client)
    },
    async close() {
      closed = true
      listeners.clear()
      subscription?.close()
    },
  }
}
