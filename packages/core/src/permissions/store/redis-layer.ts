/**
 * The shared L2: permission records in Redis (ioredis), with a per-call deadline, a circuit
 * breaker, and cross-instance invalidation over pub/sub on a duplicate connection.
 */

import type { ChangeLog } from '../../infra/change-log.js'
import type { CircuitState } from '../../infra/circuit-breaker.js'
import { execBatch } from '../../infra/redis.js'
import { pipelineAcross } from '../../infra/redis-cluster.js'
import {
  invalidationChannel,
  readKeys,
  type SharedLayerOptions,
  sharedLayerBase,
} from '../../infra/shared-layer.js'
import type { SubscriptionStatus } from '../../infra/subscription.js'
import type { PermissionRecord } from '../../types.js'
import type { CachedValue, CacheLayer, InvalidationListener } from './layer.js'
import { decodeRecord, encodeRecord } from './record.js'

/**
 * Options of {@link redisLayer}: keys `${keyPrefix}perm:<id as base64url>`, channel
 * `${keyPrefix}invalidate`; `ttlSeconds` 1800 for a record, `negativeTtlSeconds` 30 for an unknown
 * or inactive user.
 */
export type RedisLayerOptions = SharedLayerOptions

/** Default options of {@link redisLayer}. */
export const REDIS_LAYER_DEFAULTS = Object.freeze({
  keyPrefix: 'af:',
  ttlSeconds: 1800,
  negativeTtlSeconds: 30,
  timeoutMs: 250,
})

/** The Redis layer, with its key scheme and breaker state visible for operations and tests. */
export interface RedisLayer extends CacheLayer {
  get(id: string): Promise<CachedValue>
  getMany(ids: readonly string[]): Promise<CachedValue[]>
  set(id: string, value: PermissionRecord | null): Promise<void>
  setMany(
    entries: ReadonlyArray<readonly [id: string, value: PermissionRecord | null]>,
  ): Promise<void>
  delete(id: string): Promise<void>
  invalidate(id: string): Promise<void>
  subscribe(listener: InvalidationListener): () => void
  /** Resolves once the invalidation channel is subscribed and the command connection is ready. */
  ready(): Promise<void>
  close(): Promise<void>
  /** The invalidation subscription (`undefined` with `subscribe: false`): its state and heartbeat misses. */
  readonly subscription: SubscriptionStatus | undefined
  /** The Redis key of a user id. */
  keyOf(id: string): string
  /** The pub/sub channel of invalidations. */
  readonly channel: string
  /** The circuit breaker's state. */
  readonly circuit: CircuitState
}

const KEY_SPACE = 'perm:'

/**
 * Encodes a user id for a Redis key: base64url of its UTF-8 bytes. Injective and free of glob
 * characters, separators and whitespace, so ids such as `*`, `a:b` or `x\r\nDEL y` can neither
 * collide nor match a pattern.
 */
export function encodeKeyPart(id: string): string {
  return Buffer.from(id, 'utf8').toString('base64url')
}

function decodeKeyPart(part: string): string {
  return Buffer.from(part, 'base64url').toString('utf8')
}

let warnedOfflineQueue = false

/**
 * A Redis cache layer over an ioredis client or Cluster. Reads of several users are one `MGET`
 * (a Cluster: one per slot, a pipeline per node); writes are `SET key value EX ttl` in one pipeline
 * (a Cluster: one per node); `invalidate` is `DEL` + `PUBLISH` in one `MULTI` (one key: one slot). Every
 * call has a deadline (`timeoutMs`) and goes through a circuit breaker, so a Redis outage costs at
 * most a few timeouts before lookups go straight to the next layer or the source.
 *
 * @example
 * import { Redis } from 'ioredis'
 * const redis = new Redis(process.env.REDIS_URL, {
 *   enableOfflineQueue: false, commandTimeout: 200, maxRetriesPerRequest: 1,
 * })
 * const layer = redisLayer({ client: redis, keyPrefix: 'af:', ttlSeconds: 1800 })
 */
export function redisLayer(options: RedisLayerOptions): RedisLayer {
  const base = sharedLayerBase(options, 'redisLayer', REDIS_LAYER_DEFAULTS)
  const { client, keyPrefix, ttlSeconds, negativeTtlSeconds, breaker, guarded } = base
  if (client.options?.enableOfflineQueue !== false && !warnedOfflineQueue) {
    warnedOfflineQueue = true
    process.emitWarning(
      'redisLayer: the ioredis client queues commands while disconnected (enableOfflineQueue). ' +
        'Set enableOfflineQueue: false so that commands fail fast and no late write runs after a reconnect.',
      { code: 'AUTHFRAMEWORK_REDIS_OFFLINE_QUEUE' },
    )
  }
  const channel = `${keyPrefix}invalidate`
  const keyOf = (id: string): string => `${keyPrefix}${KEY_SPACE}${encodeKeyPart(id)}`
  let changes: ChangeLog | undefined

  /** A copy older than the latest change of its id is a miss: the store repairs it. */
  function decode(id: string, raw: string | null | undefined): CachedValue {
    if (typeof raw !== 'string') return undefined
    const entry = decodeRecord(raw)
    if (entry === undefined) return undefined
    if (changes !== undefined && !changes.isCurrent('permissions', id, entry.version)) {
      return undefined
    }
    return entry.value
  }

  async function setMany(
    entries: ReadonlyArray<readonly [string, PermissionRecord | null]>,
  ): Promise<void> {
    if (entries.length === 0) return
    await base.guardedWrite('SET', () => {
      // What this instance read before writing: a change heard since the read began made the
      // store drop the write, so the copy reflects every change up to this version.
      const version = changes?.version
      return pipelineAcross(
        client,
        entries,
        ([id]) => keyOf(id),
        (pipeline, [id, value]) => {
          pipeline.set(
            keyOf(id),
            encodeRecord(value, version),
            'EX',
            value === null ? negativeTtlSeconds : ttlSeconds,
          )
        },
      )
    })
  }

  const invalidations = invalidationChannel(base, channel, options.subscribe ?? true, (text) => [
    decodeKeyPart(text),
  ])

  return {
    name: 'redis',
    shared: true,
    channel,
    keyOf,
    get circuit() {
      return breaker.state
    },
    async get(id) {
      return decode(id, await guarded('GET', () => client.get(keyOf(id))))
    },
    async getMany(ids) {
      const raw = await readKeys(base, ids, keyOf)
      return ids.map((id, i) => decode(id, raw[i]))
    },
    followChanges(log) {
      changes = log
    },
    set: (id, value) => setMany([[id, value]]),
    setMany,
    async delete(id) {
      await guarded('DEL', () => client.del(keyOf(id)))
    },
    async invalidate(id) {
      await guarded('DEL+PUBLISH', () =>
        execBatch(client.multi().del(keyOf(id)).publish(channel, encodeKeyPart(id))),
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
