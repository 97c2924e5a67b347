/**
 * The shared session cache: sessions in Redis with a per-call deadline and a circuit breaker;
 * destroyed sessions become tombstones that a late read-through write cannot replace; destroys
 * reach every instance over pub/sub.
 */

import type { ChangeLog } from '../infra/change-log.js'
import type { CircuitState } from '../infra/circuit-breaker.js'
import type { InvalidationListener } from '../infra/layered-cache.js'
import { pipelineAcross, writeThenPublish } from '../infra/redis-cluster.js'
import {
  invalidationChannel,
  readKeys,
  type SharedLayerOptions,
  sharedLayerBase,
} from '../infra/shared-layer.js'
import type { SubscriptionStatus } from '../infra/subscription.js'
import type { CachedSession, SessionLayer } from './layer.js'
import { decodeSession, encodeSession, isSessionId, type Session } from './record.js'

/**
 * Options of {@link sessionRedisLayer}: keys `${keyPrefix}sess:<id>`, channel
 * `${keyPrefix}sessions:invalidate`; a session (or a tombstone) stays at most `ttlSeconds` (3600),
 * never past the session's expiry; an unknown id `negativeTtlSeconds` (30).
 */
export type SessionRedisLayerOptions = SharedLayerOptions

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
  /** The circuit breaker's state. */
  readonly circuit: CircuitState
}

/** SET key value EX ttl, unless the key holds a tombstone (`null`). */
const FILL_UNLESS_TOMBSTONE = `if redis.call('GET', KEYS[1]) == 'null' then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return 1`

/** DEL key, unless it holds a tombstone: a destroy is not a cached copy. */
const DELETE_UNLESS_TOMBSTONE = `if redis.call('GET', KEYS[1]) == 'null' then return 0 end
return redis.call('DEL', KEYS[1])`

/**
 * A Redis session layer over an ioredis client or Cluster: every script and every MULTI keeps to
 * one key; a destroy of several sessions is, on a Cluster, its tombstones per node, then the
 * message.
 *
 * @example
 * const layer = sessionRedisLayer({ client: redis, keyPrefix: 'af:' })
 */
export function sessionRedisLayer(options: SessionRedisLayerOptions): SessionRedisLayer {
  const base = sharedLayerBase(options, 'sessionRedisLayer', SESSION_REDIS_LAYER_DEFAULTS)
  const { client, keyPrefix, ttlSeconds, negativeTtlSeconds, guarded, guardedWrite } = base
  const clock = options.clock ?? Date.now
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

  const get = async (id: string) => decode(id, await guarded('GET', () => client.get(keyOf(id))))
  const invalidations = invalidationChannel(base, channel, options.subscribe !== false, (text) =>
    text.split(' ').filter(isSessionId),
  )

  return {
    name: 'redis',
    shared: true,
    channel,
    keyOf,
    get circuit() {
      return base.breaker.state
    },
    get,
    async getMany(ids) {
      const raw = await readKeys(base, ids, keyOf)
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
      // one key per script: on a Cluster each runs in its key's slot, a pipeline per node
      await guardedWrite('EVAL fill', () =>
        pipelineAcross(
          client,
          fills,
          ([key]) => key,
          (pipeline, [key, text, ttl]) => {
            pipeline.eval(FILL_UNLESS_TOMBSTONE, 1, key, text, ttl)
          },
        ),
      )
    },
    async delete(id) {
      await guarded('EVAL delete', () => client.eval(DELETE_UNLESS_TOMBSTONE, 1, keyOf(id)))
    },
    async invalidate(sessions) {
      if (sessions.length === 0) return
      await guarded('SET+PUBLISH', () =>
        writeThenPublish(
          client,
          sessions,
          ({ id }) => keyOf(id),
          (batch, { id, expiresAt }) => {
            const ttl = ttlUntil(expiresAt)
            if (ttl === 0) batch.del(keyOf(id))
            else batch.set(keyOf(id), 'null', 'EX', ttl)
          },
          channel,
          [sessions.map(({ id }) => id).join(' ')],
        ),
      )
    },
    subscribe: (listener) => invalidations.subscribe(listener),
    get subscription() {
      return invalidations.status
    },
    ready: () => invalidations.ready(),
    async close() {
      invalidations.close()
    },
  }
}
