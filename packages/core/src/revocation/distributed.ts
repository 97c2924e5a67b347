/**
 * The distributed revocation list, composed: PostgreSQL is the record, Redis carries a denylist and
 * a pub/sub channel, and every instance keeps the embedded memory list up to date from both. This
 * module wires the parts and holds the list's state; each part does one job:
 *
 * - `list-options.ts`: the options, checked once;
 * - `denylist.ts`: Redis keys, publication (MULTI), the outbox, the rebuild under a shared lock;
 * - `catch-up.ts`: PostgreSQL reads into memory, their scheduler, the keys heard from the change log;
 * - `strict-check.ts`: `strict` mode's checks through the layered cache;
 * - the channel subscription (`infra/subscription.ts`) feeds messages to memory and tells the
 *   other parts when it is (re)established or lost.
 *
 * `local` mode (default): `isRevoked` is the synchronous memory check, the list loaded from
 * PostgreSQL at start-up, fed by pub/sub, caught up after every Redis reconnect, polled while Redis
 * is away, and re-read every `syncIntervalMs` as a safety net. `strict` mode: every check not
 * already answered by the memory list asks the record through the layered cache; both Redis and
 * PostgreSQL unreachable: the check rejects (503).
 */

import { AuthUnavailableError } from '../errors.js'
import { createCircuitBreaker } from '../infra/circuit-breaker.js'
import { createRedisCall, redisReady } from '../infra/redis.js'
import { type SubscriptionStatus, subscribeChannel } from '../infra/subscription.js'
import type { RevocationEntry, RevocationList, RevocationSubject } from '../types.js'
import { safeReporter } from '../warn-once.js'
import { createCatchUp } from './catch-up.js'
import { createDenylist, type Denylist, denylistKeys } from './denylist.js'
import { checkEntry, decodeEntry, rowKey } from './keys.js'
import {
  type RevocationListOptions,
  type RevocationMode,
  type RevocationOperation,
  resolveRevocationListOptions,
} from './list-options.js'
import { createMemoryRevocationList } from './memory.js'
import { postgresRevocationSource, type RevocationSource } from './postgres.js'
import { createStrictCheck } from './strict-check.js'

/**
 * - `loading`: the first read from PostgreSQL has not completed (`local` mode refuses checks: 503).
 * - `live`: subscribed to the channel (heartbeats answered), and the command connection works (no
 *   revocation waiting to be published, the breaker closed).
 * - `disconnected`: the subscription is down (a reset, or a missed heartbeat: a stalled or
 *   black-holed connection), or this instance cannot publish; `local` mode answers from what it
 *   knows and polls PostgreSQL every `outageSyncIntervalMs`.
 */
export type RevocationListState = 'loading' | 'live' | 'disconnected' | 'closed'

/** A {@link RevocationList} shared through Redis and PostgreSQL. */
export interface DistributedRevocationList extends RevocationList {
  /** `local`: synchronous. `strict`: `true` at once when known locally, else a promise (rejects when neither Redis nor PostgreSQL answers). */
  isRevoked(subject: RevocationSubject): boolean | Promise<boolean>
  /**
   * Applies the entry here at once; records it in PostgreSQL and, concurrently, sets the Redis
   * denylist key and publishes it to every instance. Rejects with `AuthUnavailableError` when PostgreSQL or Redis
   * failed (the entry is then in effect here, and published later if only Redis failed); retrying
   * is safe.
   */
  revoke(entry: RevocationEntry): Promise<void>
  /**
   * Resolves once the first PostgreSQL read (`local`), the subscription and the command connection
   * are done; rejects if the read failed (it is retried).
   */
  ready(): Promise<void>
  /** Reads what changed in PostgreSQL since the last read now; resolves to the number of entries applied. */
  sync(): Promise<number>
  readonly mode: RevocationMode
  readonly state: RevocationListState
  /** Entries in the local list. */
  readonly size: number
  /** The channel's subscription: its state and heartbeat misses (for operations). */
  readonly subscription: SubscriptionStatus
  /** Revocations made here that wait to be published (Redis was unreachable). */
  readonly unpublished: number
  /** The Redis key of an entry, the channel and the completeness markers: for operations and tests. */
  keyOf(entry: RevocationEntry): string
  readonly channel: string
  readonly markers: readonly string[]
  /** Stops timers and the subscription. The Redis client and the pool are not closed. */
  close(): Promise<void>
}

type Report = (error: unknown, operation: RevocationOperation) => void

/** `onError` made safe to call (it cannot throw); by default one process warning per operation. */
function reporter(onError: RevocationListOptions['onError']): Report {
  const report = safeReporter(onError, 'AUTHFRAMEWORK_REVOCATION_FAILURE', {
    key: ({ operation }) => operation,
    message: ({ operation }, kind) => `Revocation list: ${operation} failed (${kind}).`,
  })
  return (error, operation) => report(error, { operation })
}

/**
 * The write path of `revoke`: the entry is in effect here at once; the row and the message are
 * written at the same time (propagation does not wait for the commit: an instance that subscribes
 * meanwhile reads again a little later). A publication that fails waits in the outbox.
 */
async function recordAndPublish(
  input: RevocationEntry,
  parts: {
    readonly memory: ReturnType<typeof createMemoryRevocationList>
    readonly source: RevocationSource
    readonly denylist: Denylist
    readonly report: Report
  },
): Promise<void> {
  const { memory, source, denylist, report } = parts
  const entry = checkEntry(input)
  if (entry === undefined) {
    throw new TypeError(
      "revocation.revoke(entry): expected { kind: 'token', tokenHash } | { kind: 'jti', jti } | { kind: 'subject', sub, before }, each with a numeric expiresAt.",
    )
  }
  memory.apply(entry)
  const [stored, published] = await Promise.allSettled([
    source.insert(entry),
    denylist.publish([entry]),
  ])
  if (stored.status === 'rejected') report(stored.reason, 'store')
  if (published.status === 'rejected') {
    denylist.defer(entry)
    report(published.reason, 'publish')
  }
  if (stored.status === 'rejected') {
    throw new AuthUnavailableError(
      'The revocation is in effect on this instance but could not be stored in PostgreSQL; retry it.',
      { cause: stored.reason },
    )
  }
  if (published.status === 'rejected') {
    throw new AuthUnavailableError(
      'The revocation is stored but could not be published through Redis; it is published when Redis is back, and other instances read it at their next catch-up. Retrying is safe.',
      { cause: published.reason },
    )
  }
}

/**
 * Creates a revocation list shared by every instance that uses the same Redis (`keyPrefix`) and
 * PostgreSQL. Pass it to `createAuth({ revocation })`; `auth.revoke(...)` then reaches every
 * instance, typically within a few milliseconds.
 *
 * @example
 * const revocation = createRevocationList({ redis, pool, keyPrefix: 'af:' })
 * await revocation.ready() // loaded from PostgreSQL, subscribed
 * const auth = createAuth({ ...options, revocation })
 * await auth.revoke({ token })        // or { jti }, or { sub, before }
 * await revocation.close()
 */
export function createRevocationList(options: RevocationListOptions): DistributedRevocationList {
  const o = resolveRevocationListOptions(options)
  const { redis, mode, clock } = o
  const source = o.source ?? postgresRevocationSource({ pool: o.pool! })
  const breaker = createCircuitBreaker({ ...o.breaker, clock })
  const guarded = createRedisCall(redis, breaker, o.redisTimeoutMs)
  const safeReport = reporter(o.onError)

  const memory = createMemoryRevocationList({ max: o.max, clock })
  const keys = denylistKeys(o.keyPrefix)
  let closed = false
  /** Subscribed, and nothing says the command connection is failing. */
  const connected = () =>
    subscription.live && denylist.unpublished === 0 && breaker.state === 'closed'

  const denylist = createDenylist({
    ...o,
    guarded,
    keys,
    source,
    report: safeReport,
    retry: () => catchUp.schedule(),
  })
  const catchUp = createCatchUp({
    ...o,
    source,
    memory,
    connected,
    redisPending: () => denylist.unpublished > 0 || (denylist.unchecked && subscription.live),
    onTick: () => denylist.retryNow(),
    repair: (entries) => {
      if (subscription.live) denylist.repair(entries)
    },
    report: safeReport,
  })
  const subscription = subscribeChannel(redis, keys.channel, o.heartbeat, {
    message(text) {
      const entry = decodeEntry(text)
      try {
        if (entry !== undefined) memory.apply(entry)
      } catch (error) {
        safeReport(error, 'apply')
      }
    },
    subscribed() {
      catchUp.subscribed()
      // The command connection may come back a moment after the subscription one.
      denylist.resume()
      catchUp.schedule()
    },
    lost: () => catchUp.lost(),
  })
  const strict =
    mode === 'strict'
      ? createStrictCheck({
          redis,
          guarded,
          keyOfRow: keys.ofRow,
          markerOf: keys.markerOf,
          source,
          rebuild: () => void denylist.rebuild(),
          maxBatchSize: o.maxBatchSize,
          remember: (entries) => memory.applyEach(entries, (error) => safeReport(error, 'apply')),
          report: (error) => safeReport(error, 'check'),
        })
      : undefined

  return {
    mode,
    channel: keys.channel,
    markers: keys.markers,
    keyOf: (entry) => keys.ofRow(rowKey(entry)),
    get state(): RevocationListState {
      if (closed) return 'closed'
      if (!catchUp.loaded) return 'loading'
      return connected() ? 'live' : 'disconnected'
    },
    get size() {
      return memory.size
    },
    get subscription() {
      return subscription.status
    },
    get unpublished() {
      return denylist.unpublished
    },
    isRevoked(subject) {
      if (closed) throw new AuthUnavailableError('The revocation list is closed.')
      if (mode === 'local') {
        if (!catchUp.loaded) {
          throw new AuthUnavailableError(
            'The revocation list has not been loaded from PostgreSQL yet.',
          )
        }
        return memory.isRevoked(subject)
      }
      return memory.isRevoked(subject) || strict!.isRevoked(subject)
    },
    async revoke(input) {
      if (closed) throw new AuthUnavailableError('The revocation list is closed.')
      await recordAndPublish(input, { memory, source, denylist, report: safeReport })
    },
    async ready() {
      if (closed) return
      if (mode === 'local' && !catchUp.loaded) await (catchUp.running ?? catchUp.sync())
      await subscription.ready()
      if (!closed) await redisReady(redis)
    },
    sync: () => catchUp.sync(),
    async close() {
      if (closed) return
      closed = true
      const stopping = catchUp.close()
      subscription.close()
      await Promise.allSettled([stopping, denylist.close(), strict?.close()])
    },
  }
}
