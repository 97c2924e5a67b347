/**
 * The distributed revocation list: PostgreSQL is the record, Redis carries a denylist (one key per
 * revocation, expiring with it) and a pub/sub channel, and every instance keeps the embedded memory
 * list up to date from both.
 *
 * - `local` mode (default): `isRevoked` is the synchronous memory check. The list is loaded from
 *   PostgreSQL at start-up, fed by pub/sub, caught up from PostgreSQL after every Redis reconnect,
 *   polled from PostgreSQL while Redis is away, and re-read every `syncIntervalMs` as a safety net.
 * - `strict` mode: every check not already answered by the memory list asks the record through the
 *   layered cache (`strict-check.ts`): the checks of one tick share one `MGET` of the denylist, and
 *   PostgreSQL answers while Redis cannot. Both unreachable: the check rejects (503).
 */

import { AuthUnavailableError } from '../errors.js'
import type { ChangeLog } from '../infra/change-log.js'
import { createCircuitBreaker } from '../infra/circuit-breaker.js'
import { withTimeout } from '../infra/deadline.js'
import type { PostgresQueryable } from '../infra/postgres.js'
import { createRedisCall, redisReady } from '../infra/redis.js'
import {
  resolveSubscriptionOptions,
  type SubscriptionOptions,
  type SubscriptionStatus,
  subscribeChannel,
} from '../infra/subscription.js'
import type { ChainableCommander, Redis } from '../peer-types.js'
import type { Clock, RevocationEntry, RevocationList, RevocationSubject } from '../types.js'
import { createWarnOnce } from '../warn-once.js'
import { checkEntry, decodeEntry, encodeEntry, rowKey } from './keys.js'
import { createMemoryRevocationList } from './memory.js'
import {
  postgresRevocationSource,
  type RevocationCursor,
  type RevocationSource,
} from './postgres.js'
import { createStrictCheck } from './strict-check.js'

/** How `isRevoked` answers: from the local list (`local`) or by asking Redis (`strict`). */
export type RevocationMode = 'local' | 'strict'

/** What failed, for `onError`. */
export type RevocationOperation = 'store' | 'publish' | 'sync' | 'rebuild' | 'check' | 'apply'

/**
 * - `loading`: the first read from PostgreSQL has not completed (`local` mode refuses checks: 503).
 * - `live`: subscribed to the channel (heartbeats answered), and the command connection works (no
 *   revocation waiting to be published, the breaker closed).
 * - `disconnected`: the subscription is down (a reset, or a missed heartbeat: a stalled or
 *   black-holed connection), or this instance cannot publish; `local` mode answers from what it
 *   knows and polls PostgreSQL every `outageSyncIntervalMs`.
 */
export type RevocationListState = 'loading' | 'live' | 'disconnected' | 'closed'

export interface RevocationListOptions extends SubscriptionOptions {
  /**
   * An ioredis client (not a Cluster) for the denylist and publishing; `duplicate()`d once for the
   * subscription. Never closed by the list. Recommended client options, so that commands fail
   * fast while Redis is away: `{ enableOfflineQueue: false, commandTimeout: 200, maxRetriesPerRequest: 1 }`.
   */
  readonly redis: Redis
  /** A `pg` pool on the migrated schema (shorthand for `source: postgresRevocationSource({ pool })`). */
  readonly pool?: PostgresQueryable
  /** Where revocations are recorded; give either this or `pool`. */
  readonly source?: RevocationSource
  /** Prefix of every Redis key and of the channel (`${keyPrefix}revocations`). Default `'af:'`. */
  readonly keyPrefix?: string
  /** Default `'local'`. */
  readonly mode?: RevocationMode
  /** Most revocations kept in memory (see `createMemoryRevocationList`). Default 100 000. */
  readonly max?: number
  /** Rows per catch-up query. Default 1000. */
  readonly pageSize?: number
  /** Deadline of each Redis call on the request path. Default 250. */
  readonly redisTimeoutMs?: number
  /** Circuit breaker in front of Redis: failures that open it (default 3), for how long (default 1000 ms); strict checks go to PostgreSQL meanwhile. */
  readonly breaker?: { readonly failureThreshold?: number; readonly openMs?: number }
  /** `local` mode: re-read changes from PostgreSQL this often while subscribed. Default 30 000; `false`: never. */
  readonly syncIntervalMs?: number | false
  /** `local` mode: re-read changes this often while the subscription is down. Default 1000; `false`: only after reconnect. */
  readonly outageSyncIntervalMs?: number | false
  /** How far back (seconds) each catch-up re-reads, for transactions that committed late. Default 60. */
  readonly catchUpOverlapSeconds?: number
  /** `strict` mode: most keys read by one `MGET` or query (two or three per check). Default 500. */
  readonly maxBatchSize?: number
  /** Called when something fails in the background or on the write path. Default: one process warning per operation. */
  readonly onError?: (error: unknown, context: { readonly operation: RevocationOperation }) => void
  /** Milliseconds since the epoch (Redis `EX` of entries, expiry of the memory list). Default `Date.now`. */
  readonly clock?: Clock
  /**
   * The change log ({@link createChangeLog} on the same database): every revocation recorded in
   * PostgreSQL, by any instance or writer, is then read by this one within about two
   * `pollIntervalMs`, whatever Redis does (also a revocation made on an instance that cannot
   * reach Redis).
   */
  readonly changes?: ChangeLog
}

/** Default options of {@link createRevocationList}. */
export const REVOCATION_LIST_DEFAULTS = Object.freeze({
  keyPrefix: 'af:',
  mode: 'local' as RevocationMode,
  max: 100_000,
  pageSize: 1000,
  redisTimeoutMs: 250,
  syncIntervalMs: 30_000,
  outageSyncIntervalMs: 1000,
  catchUpOverlapSeconds: 60,
  maxBatchSize: 500,
})

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
  /** The Redis key of an entry, and the channel: for operations and tests. */
  keyOf(entry: RevocationEntry): string
  readonly channel: string
  /** Stops timers and the subscription. The Redis client and the pool are not closed. */
  close(): Promise<void>
}

/** Sets the subject key to the later of the stored and the given `before`, and the longer TTL. */
const SUBJECT_SCRIPT = `local current = tonumber(redis.call('GET', KEYS[1]) or '')
if current ~= nil and current >= tonumber(ARGV[1]) then
  if redis.call('TTL', KEYS[1]) < tonumber(ARGV[2]) then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return 1`

const BULK_TIMEOUT_MS = 5000
/** How long after a (re)subscription a second catch-up read runs, for rows committed late. */
const LATE_COMMIT_MS = 5000
const OUTBOX_MAX = 10_000

function interval(value: unknown, name: string, fallback: number | false): number | false {
  const v = value === undefined ? fallback : value
  if (v === false) return false
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
    throw new TypeError(
      `createRevocationList: ${name} must be a positive number of milliseconds or false.`,
    )
  }
  return v
}

function positiveInteger(value: unknown, name: string, fallback: number): number {
  const v = value === undefined ? fallback : value
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
    throw new TypeError(
      `createRevocationList: ${name} must be a positive integer, e.g. ${fallback}.`,
    )
  }
  return v
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
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('createRevocationList(options): pass { redis, pool }.')
  }
  const redis = options.redis
  if (typeof redis?.mget !== 'function' || typeof redis.duplicate !== 'function') {
    throw new TypeError(
      'createRevocationList: redis must be an ioredis client (new Redis(url, options)).',
    )
  }
  if ((options.pool === undefined) === (options.source === undefined)) {
    throw new TypeError('createRevocationList: pass either pool (a pg Pool) or source, not both.')
  }
  const source = options.source ?? postgresRevocationSource({ pool: options.pool! })
  for (const method of ['insert', 'now', 'page', 'findLive'] as const) {
    if (typeof source[method] !== 'function') {
      throw new TypeError(
        `createRevocationList: source has no ${method}(); use postgresRevocationSource({ pool }).`,
      )
    }
  }
  const d = REVOCATION_LIST_DEFAULTS
  const keyPrefix = options.keyPrefix ?? d.keyPrefix
  if (typeof keyPrefix !== 'string')
    throw new TypeError("createRevocationList: keyPrefix must be a string, e.g. 'af:'.")
  const mode = options.mode ?? d.mode
  if (mode !== 'local' && mode !== 'strict') {
    throw new TypeError("createRevocationList: mode must be 'local' or 'strict'.")
  }
  const max = positiveInteger(options.max, 'max', d.max)
  const pageSize = positiveInteger(options.pageSize, 'pageSize', d.pageSize)
  const maxBatchSize = positiveInteger(options.maxBatchSize, 'maxBatchSize', d.maxBatchSize)
  const redisTimeoutMs = positiveInteger(options.redisTimeoutMs, 'redisTimeoutMs', d.redisTimeoutMs)
  const syncIntervalMs = interval(options.syncIntervalMs, 'syncIntervalMs', d.syncIntervalMs)
  const outageSyncIntervalMs = interval(
    options.outageSyncIntervalMs,
    'outageSyncIntervalMs',
    d.outageSyncIntervalMs,
  )
  const overlapSeconds = options.catchUpOverlapSeconds ?? d.catchUpOverlapSeconds
  if (
    typeof overlapSeconds !== 'number' ||
    !Number.isInteger(overlapSeconds) ||
    overlapSeconds < 0
  ) {
    throw new TypeError(
      'createRevocationList: catchUpOverlapSeconds must be a non-negative integer, e.g. 60.',
    )
  }
  const clock = options.clock ?? Date.now
  const breaker = createCircuitBreaker({
    failureThreshold: options.breaker?.failureThreshold ?? 3,
    openMs: options.breaker?.openMs ?? 1000,
    clock,
  })
  const heartbeat = resolveSubscriptionOptions(options, 'createRevocationList')

  const warn = createWarnOnce('AUTHFRAMEWORK_REVOCATION_FAILURE')
  const report =
    options.onError ??
    ((error: unknown, { operation }: { readonly operation: RevocationOperation }) =>
      warn(operation, error, (kind) => `Revocation list: ${operation} failed (${kind}).`))
  function safeReport(error: unknown, operation: RevocationOperation): void {
    try {
      report(error, { operation })
    } catch {}
  }

  const memory = createMemoryRevocationList({ max, clock })
  const channel = `${keyPrefix}revocations`
  const keyOfRow = (row: string) => `${keyPrefix}rev:${row}`
  const markerKey = `${keyPrefix}rev-meta:complete`
  const rebuildLockKey = `${keyPrefix}rev-meta:rebuilding`
  let closed = false
  let loaded = mode === 'strict'
  let syncedAtUs: bigint | undefined
  let warnedFull = false
  const outbox = new Map<string, RevocationEntry>()

  // --- Redis ----------------------------------------------------------------------------------

  const guarded = createRedisCall(redis, breaker, redisTimeoutMs)
  /** Subscribed, and nothing says the command connection is failing. */
  const connected = () => subscription.live && outbox.size === 0 && breaker.state === 'closed'

  /** Runs `run` once the command connection is ready (it may come back after the subscription one). */
  let waitingForCommands = false
  function whenCommandsReady(run: () => void): void {
    if (redis.status === 'ready') {
      run()
      return
    }
    if (waitingForCommands) return
    waitingForCommands = true
    redis.once('ready', () => {
      waitingForCommands = false
      if (!closed) run()
    })
  }

  function ttlOf(entry: RevocationEntry): number {
    return Math.max(1, Math.ceil(entry.expiresAt - clock() / 1000))
  }

  type Batch = ChainableCommander
  function addWrite(batch: Batch, entry: RevocationEntry): void {
    const key = keyOfRow(rowKey(entry))
    if (entry.kind === 'subject')
      batch.eval(SUBJECT_SCRIPT, 1, key, String(entry.before), ttlOf(entry))
    else batch.set(key, '1', 'EX', ttlOf(entry))
  }

  async function exec(batch: Batch): Promise<void> {
    const results = await batch.exec()
    if (results === null) throw new Error('Redis MULTI was aborted.')
    const failed = results.find(([error]) => error !== null)
    if (failed) throw failed[0]
  }

  /** Denylist keys and the message, in one MULTI per call. */
  function publish(entries: readonly RevocationEntry[]): Promise<void> {
    return guarded(
      'SET+PUBLISH',
      () => {
        const batch = redis.multi()
        for (const entry of entries) {
          addWrite(batch, entry)
          batch.publish(channel, encodeEntry(entry))
        }
        return exec(batch)
      },
      entries.length > 1 ? BULK_TIMEOUT_MS : redisTimeoutMs,
    )
  }

  /** Denylist keys only (catch-up repairs and rebuilds); not through the breaker. */
  async function writeDenylist(entries: readonly RevocationEntry[]): Promise<void> {
    for (let i = 0; i < entries.length; i += pageSize) {
      const batch = redis.pipeline()
      for (const entry of entries.slice(i, i + pageSize)) addWrite(batch, entry)
      await withTimeout(exec(batch), BULK_TIMEOUT_MS, 'Redis denylist write')
    }
  }

  async function flushOutbox(): Promise<void> {
    if (outbox.size === 0) return
    const now = clock() / 1000
    const entries = [...outbox.values()].filter((entry) => entry.expiresAt > now)
    outbox.clear()
    try {
      if (entries.length > 0) await publish(entries)
    } catch (error) {
      for (const entry of entries) outbox.set(rowKey(entry), entry)
      throw error
    }
  }

  // --- the denylist is complete only after a rebuild from PostgreSQL (a restart loses it) --------

  let rebuilding: Promise<void> | undefined
  function rebuild(): Promise<void> {
    rebuilding ??= (async () => {
      const lock = await withTimeout(
        redis.set(rebuildLockKey, '1', 'PX', 60_000, 'NX'),
        redisTimeoutMs,
        'Redis SET NX',
      )
      if (lock !== 'OK') return // another instance is at it
      try {
        let after: RevocationCursor | undefined = { changedAtUs: '0', key: '' }
        while (after !== undefined && !closed) {
          const page = await source.page(after, pageSize)
          await writeDenylist(page.entries)
          after = page.next
        }
        await withTimeout(redis.set(markerKey, String(clock())), redisTimeoutMs, 'Redis SET')
      } finally {
        await withTimeout(redis.del(rebuildLockKey), redisTimeoutMs, 'Redis DEL').catch(() => {})
      }
    })()
      .catch((error: unknown) => safeReport(error, 'rebuild'))
      .finally(() => {
        rebuilding = undefined
      })
    return rebuilding
  }

  /** Whether the completeness marker still has to be checked (retried by the timer until it is). */
  let denylistUnchecked = true
  async function checkDenylist(): Promise<void> {
    try {
      const exists = await withTimeout(redis.exists(markerKey), redisTimeoutMs, 'Redis EXISTS')
      denylistUnchecked = false
      if (exists === 0) void rebuild()
    } catch {
      // Redis is flapping: the timer tries again.
      denylistUnchecked = true
      schedule()
    }
  }

  // --- catch-up from PostgreSQL (local mode) ----------------------------------------------------

  async function readChanges(): Promise<number> {
    const full = syncedAtUs === undefined
    const startUs = BigInt(await source.now())
    const sinceUs = full ? 0n : syncedAtUs! - BigInt(overlapSeconds) * 1_000_000n
    let after: RevocationCursor | undefined = { changedAtUs: String(sinceUs), key: '' }
    let count = 0
    const changed: RevocationEntry[] = []
    while (after !== undefined && !closed) {
      const page = await source.page(after, pageSize)
      for (const entry of page.entries) {
        try {
          memory.apply(entry)
        } catch {
          count = max // full: stop loading, warn below
        }
      }
      count += page.entries.length
      if (!full) changed.push(...page.entries)
      after = page.next
      if (count >= max && after !== undefined) {
        // Bounded: the local list cannot hold more anyway. Strict mode has no such limit.
        if (!warnedFull) {
          warnedFull = true
          process.emitWarning(
            `Revocation list: more than ${max} live revocations; raise \`max\` or use mode 'strict'.`,
            { code: 'AUTHFRAMEWORK_REVOCATION_LIST_FULL' },
          )
        }
        break
      }
    }
    syncedAtUs = startUs
    loaded = true
    // Redis may have lost what was set while this instance was away (a restart from an old snapshot).
    // Best effort: a full loss is detected by the completeness marker and rebuilt.
    if (changed.length > 0 && subscription.live) {
      whenCommandsReady(() => {
        writeDenylist(changed).catch(() => {})
      })
    }
    return count
  }

  let syncing: Promise<number> | undefined
  let queued: Promise<number> | undefined
  function sync(): Promise<number> {
    if (closed) return Promise.resolve(0)
    if (syncing === undefined) {
      syncing = readChanges().finally(() => {
        syncing = undefined
        schedule()
      })
      syncing.catch((error: unknown) => safeReport(error, 'sync'))
      return syncing
    }
    // A read is running, but it may have started before what the caller wants to see.
    queued ??= syncing
      .catch(() => {})
      .then(() => {
        queued = undefined
        return sync()
      })
    return queued
  }

  let timer: NodeJS.Timeout | undefined
  function schedule(): void {
    clearTimeout(timer)
    timer = undefined
    if (closed) return
    let delay: number | false
    if (!loaded) {
      delay = outageSyncIntervalMs === false ? 1000 : Math.min(outageSyncIntervalMs, 1000)
    } else if (mode === 'strict') delay = false
    else delay = connected() ? syncIntervalMs : outageSyncIntervalMs
    // Redis work left over (a revocation to publish, the denylist to check): retry within a second.
    if (outbox.size > 0 || (denylistUnchecked && subscription.live)) {
      delay = Math.min(delay === false ? 1000 : delay, 1000)
    }
    if (delay === false) return
    timer = setTimeout(tick, delay)
    timer.unref()
  }

  function tick(): void {
    timer = undefined
    if (redis.status === 'ready') {
      flushOutbox().catch((error: unknown) => safeReport(error, 'publish'))
      if (denylistUnchecked) void checkDenylist()
    }
    if (mode === 'local') sync().catch(() => {})
    else schedule()
  }

  // --- subscription ---------------------------------------------------------------------------

  let lateRead: NodeJS.Timeout | undefined
  const subscription = subscribeChannel(redis, channel, heartbeat, {
    message(text) {
      const entry = decodeEntry(text)
      try {
        if (entry !== undefined) memory.apply(entry)
      } catch (error) {
        safeReport(error, 'apply')
      }
    },
    subscribed() {
      // Read after subscribing (again after a reconnect): what was published while this instance
      // was not subscribed is in PostgreSQL, and what is published from now on arrives here. A
      // revocation is published while its row is being written, so a message missed just before
      // the subscription may belong to a row not yet committed: read once more a little later.
      if (mode === 'local') {
        sync().catch(() => {})
        clearTimeout(lateRead)
        lateRead = setTimeout(() => sync().catch(() => {}), LATE_COMMIT_MS)
        lateRead.unref()
      }
      // The command connection may come back a moment after the subscription one.
      whenCommandsReady(() => {
        flushOutbox().catch((error: unknown) => safeReport(error, 'publish'))
        void checkDenylist()
      })
      schedule()
    },
    // Messages may be missed from now on: read PostgreSQL at once, then every outageSyncIntervalMs.
    lost() {
      if (mode === 'local' && loaded && outageSyncIntervalMs !== false) sync().catch(() => {})
      else schedule()
    },
  })
  if (mode === 'local') sync().catch(() => {})
  // PostgreSQL is the record: the rows of the revocations heard from the log are read by key, the
  // keys of one tick in one query, and written back to the denylist (a revoker cut off from Redis
  // could not write them there)
  const heard = new Set<string>()
  async function readHeard(): Promise<void> {
    const keys = [...heard]
    heard.clear()
    for (let i = 0; i < keys.length && !closed; i += pageSize) {
      let entries: readonly RevocationEntry[]
      try {
        entries = await source.findLive(keys.slice(i, i + pageSize))
      } catch (error) {
        safeReport(error, 'sync')
        // the catch-up reads the same rows, and is retried by its timer while PostgreSQL fails
        sync().catch(() => {})
        return
      }
      for (const entry of entries) {
        try {
          memory.apply(entry)
        } catch (error) {
          safeReport(error, 'apply')
        }
      }
      if (entries.length > 0 && subscription.live) {
        whenCommandsReady(() => {
          writeDenylist(entries).catch(() => {})
        })
      }
    }
  }
  const unfollow = options.changes?.subscribe('revocations', (key) => {
    heard.add(key)
    if (heard.size === 1) queueMicrotask(() => void readHeard())
  })

  // --- strict checks ----------------------------------------------------------------------------

  const strict =
    mode === 'strict'
      ? createStrictCheck({
          redis,
          guarded,
          keyOfRow,
          markerKey,
          source,
          rebuild: () => void rebuild(),
          maxBatchSize,
          report: (error) => safeReport(error, 'check'),
        })
      : undefined

  const notLoaded = () =>
    new AuthUnavailableError('The revocation list has not been loaded from PostgreSQL yet.')

  return {
    mode,
    channel,
    keyOf: (entry) => keyOfRow(rowKey(entry)),
    get state(): RevocationListState {
      if (closed) return 'closed'
      if (!loaded) return 'loading'
      return connected() ? 'live' : 'disconnected'
    },
    get size() {
      return memory.size
    },
    get subscription() {
      return subscription.status
    },
    get unpublished() {
      return outbox.size
    },
    isRevoked(subject) {
      if (closed) throw new AuthUnavailableError('The revocation list is closed.')
      if (mode === 'local') {
        if (!loaded) throw notLoaded()
        return memory.isRevoked(subject)
      }
      return memory.isRevoked(subject) || strict!.isRevoked(subject)
    },
    async revoke(input) {
      if (closed) throw new AuthUnavailableError('The revocation list is closed.')
      const entry = checkEntry(input)
      if (entry === undefined) {
        throw new TypeError(
          "revocation.revoke(entry): expected { kind: 'token', tokenHash } | { kind: 'jti', jti } | { kind: 'subject', sub, before }, each with a numeric expiresAt.",
        )
      }
      memory.apply(entry)
      // The row and the message are written at the same time (propagation does not wait for the
      // commit); an instance that subscribes meanwhile reads again a little later (`subscribed`).
      const [stored, published] = await Promise.allSettled([source.insert(entry), publish([entry])])
      if (stored.status === 'rejected') safeReport(stored.reason, 'store')
      if (published.status === 'rejected') {
        if (outbox.size < OUTBOX_MAX) outbox.set(rowKey(entry), entry)
        safeReport(published.reason, 'publish')
        schedule()
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
    },
    async ready() {
      if (closed) return
      if (mode === 'local' && !loaded) await (syncing ?? sync())
      await subscription.ready()
      if (!closed) await redisReady(redis)
    },
    sync,
    async close() {
      if (closed) return
      closed = true
      clearTimeout(timer)
      clearTimeout(lateRead)
      unfollow?.()
      subscription.close()
      await Promise.allSettled([syncing, rebuilding, strict?.close()])
    },
  }
}
