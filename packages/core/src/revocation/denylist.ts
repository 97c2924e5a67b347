/**
 * The Redis side of the distributed revocation list: the denylist (one key per revocation, expiring
 * with it), the publication of new revocations (keys and message in one MULTI; on a Cluster the
 * keys, then the message), the outbox of revocations waiting to be published while Redis fails, and
 * the completeness markers with the rebuild from PostgreSQL under a lock shared by every instance
 * (a restarted Redis, or a Cluster shard that lost its data, has lost the denylist or part of it;
 * until it is rebuilt, strict checks ask PostgreSQL).
 *
 * The keys are spread over {@link DENYLIST_BUCKETS} buckets, each a hash tag with a marker of its
 * own: a bucket's keys and its marker always live in the same slot, on the same Cluster node, so
 * that one `MGET` reads a revocation together with the proof that its bucket is complete, and a
 * shard that comes back empty loses its markers with its keys.
 */
import { withTimeout } from '../infra/deadline.js'
import type { RedisCall } from '../infra/redis.js'
import { mgetAcross, pipelineAcross, writeThenPublish } from '../infra/redis-cluster.js'
import type { ChainableCommander, RedisClient } from '../peer-types.js'
import type { Clock, RevocationEntry } from '../types.js'
import { encodeEntry, rowKey } from './keys.js'
import type { RevocationCursor, RevocationSource } from './postgres.js'

/** The Redis names of one list (`keyPrefix`): shared by every instance with the same prefix. */
export interface DenylistKeys {
  /** The pub/sub channel of new revocations. */
  readonly channel: string
  /** The denylist key of a row key (`tokens.token_hash`). */
  readonly ofRow: (row: string) => string
  /** The completeness marker of the bucket of a row key. */
  readonly markerOf: (row: string) => string
  /** Every bucket's marker: each present while its bucket holds every live revocation. */
  readonly markers: readonly string[]
  /** Held (with an expiry) by the one instance rebuilding the denylist. */
  readonly rebuildLock: string
}

/**
 * The Redis names of a list with this `keyPrefix`.
 *
 * @example
 * denylistKeys('af:').channel // 'af:revocations'
 */
export function denylistKeys(keyPrefix: string): DenylistKeys {
  const markerOfBucket = (bucket: number) => `${keyPrefix}rev-meta:{rev:${bucket}}:complete`
  return Object.freeze({
    channel: `${keyPrefix}revocations`,
    ofRow: (row: string) => `${keyPrefix}rev:{rev:${bucketOf(row)}}:${row}`,
    markerOf: (row: string) => markerOfBucket(bucketOf(row)),
    markers: Object.freeze(Array.from({ length: DENYLIST_BUCKETS }, (_, i) => markerOfBucket(i))),
    rebuildLock: `${keyPrefix}rev-meta:rebuilding`,
  })
}

/**
 * Buckets of the denylist: enough that a Cluster's shards share the keys evenly (64 slots over 3
 * masters: 17 to 25 each), few enough that a strict check's `MGET`s stay few and a rebuild sets
 * few markers.
 */
export const DENYLIST_BUCKETS = 64

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'

/**
 * The bucket of a row key. Row keys end with a SHA-256 in base64url (see `rowKey`), whose
 * second-to-last character carries six uniform bits (the last one carries four).
 */
function bucketOf(row: string): number {
  return Math.max(0, BASE64URL.indexOf(row.charAt(row.length - 2))) % DENYLIST_BUCKETS
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
const REBUILD_LOCK_MS = 60_000
/** Most revocations kept for publication while Redis fails (each is in PostgreSQL anyway). */
const OUTBOX_MAX = 10_000

export interface DenylistOptions {
  readonly redis: RedisClient
  /** The list's guarded Redis call (deadline and breaker). */
  readonly guarded: RedisCall
  readonly keys: DenylistKeys
  /** Read by the rebuild. */
  readonly source: RevocationSource
  /** Denylist keys per pipeline, and rows per page of the rebuild. */
  readonly pageSize: number
  readonly redisTimeoutMs: number
  readonly clock: Clock
  /** Something failed (publish, rebuild). Must not throw. */
  readonly report: (error: unknown, operation: 'publish' | 'rebuild') => void
  /** Redis work is left over (a revocation to publish, the marker to check): retry it soon. */
  readonly retry: () => void
}

export interface Denylist {
  /** Sets the keys of `entries` and publishes them, in one MULTI through the breaker. */
  publish(entries: readonly RevocationEntry[]): Promise<void>
  /** Keeps an entry whose publication failed, for {@link Denylist.flush}; then asks for a retry. */
  defer(entry: RevocationEntry): void
  /** Publishes what waits in the outbox (the live entries); what fails is kept. */
  flush(): Promise<void>
  /** Writes entries read from PostgreSQL back to the denylist once the command connection is ready (best effort). */
  repair(entries: readonly RevocationEntry[]): void
  /** The subscription is back: once the command connection is ready, flush and check the marker. */
  resume(): void
  /** A timer tick: when the command connection is ready, flush and check the marker if still due. */
  retryNow(): void
  /** Rebuilds the denylist from PostgreSQL unless another instance holds the lock. */
  rebuild(): Promise<void>
  /** Entries waiting in the outbox. */
  readonly unpublished: number
  /** Whether the completeness marker still has to be checked. */
  readonly unchecked: boolean
  /** Stops the rebuild's loop and waits for it. */
  close(): Promise<void>
}

/** Adds the write of an entry's key to a MULTI or a pipeline; it expires with the entry. */
function addWrite(batch: ChainableCommander, entry: RevocationEntry, o: DenylistOptions): void {
  const key = o.keys.ofRow(rowKey(entry))
  const ttl = Math.max(1, Math.ceil(entry.expiresAt - o.clock() / 1000))
  if (entry.kind === 'subject') batch.eval(SUBJECT_SCRIPT, 1, key, String(entry.before), ttl)
  else batch.set(key, '1', 'EX', ttl)
}

/** The denylist key of an entry. */
function keyOfEntry(o: DenylistOptions): (entry: RevocationEntry) => string {
  return (entry) => o.keys.ofRow(rowKey(entry))
}

/** Denylist keys only (catch-up repairs and rebuilds), `pageSize` per pipeline (a Cluster: per node); not through the breaker. */
async function writeKeys(entries: readonly RevocationEntry[], o: DenylistOptions): Promise<void> {
  const add = (batch: ChainableCommander, entry: RevocationEntry) => addWrite(batch, entry, o)
  for (let i = 0; i < entries.length; i += o.pageSize) {
    const page = entries.slice(i, i + o.pageSize)
    await withTimeout(
      pipelineAcross(o.redis, page, keyOfEntry(o), add),
      BULK_TIMEOUT_MS,
      'Redis denylist write',
    )
  }
}

/**
 * Writes every live revocation of the record to the denylist, then sets the completeness marker;
 * does nothing while another instance holds the rebuild lock.
 */
async function rebuildKeys(o: DenylistOptions, isClosed: () => boolean): Promise<void> {
  const { redis, keys, redisTimeoutMs } = o
  const lock = await withTimeout(
    redis.set(keys.rebuildLock, '1', 'PX', REBUILD_LOCK_MS, 'NX'),
    redisTimeoutMs,
    'Redis SET NX',
  )
  if (lock !== 'OK') return // another instance is at it
  try {
    let after: RevocationCursor | undefined = { changedAtUs: '0', key: '' }
    while (after !== undefined && !isClosed()) {
      const page = await o.source.page(after, o.pageSize)
      await writeKeys(page.entries, o)
      after = page.next
    }
    const now = String(o.clock())
    await withTimeout(
      pipelineAcross(redis, keys.markers, String, (batch, marker) => batch.set(marker, now)),
      BULK_TIMEOUT_MS,
      'Redis SET markers',
    )
  } finally {
    await withTimeout(redis.del(keys.rebuildLock), redisTimeoutMs, 'Redis DEL').catch(() => {})
  }
}

/**
 * Creates the Redis side of a distributed revocation list.
 *
 * @example
 * const denylist = createDenylist({ redis, guarded, keys: denylistKeys('af:'), source, ... })
 * await denylist.publish([entry])
 */
export function createDenylist(options: DenylistOptions): Denylist {
  const { redis, keys, clock, report, retry } = options
  const outbox = new Map<string, RevocationEntry>()
  let closed = false

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

  function publish(entries: readonly RevocationEntry[]): Promise<void> {
    return options.guarded(
      'SET+PUBLISH',
      () =>
        writeThenPublish(
          redis,
          entries,
          keyOfEntry(options),
          (batch, entry) => addWrite(batch, entry, options),
          keys.channel,
          entries.map(encodeEntry),
          true, // the message is the revocation: subscribers apply it without reading the keys
        ),
      entries.length > 1 ? BULK_TIMEOUT_MS : options.redisTimeoutMs,
    )
  }

  async function flush(): Promise<void> {
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
  const flushReported = () => flush().catch((error: unknown) => report(error, 'publish'))

  let rebuilding: Promise<void> | undefined
  function rebuild(): Promise<void> {
    rebuilding ??= rebuildKeys(options, () => closed)
      .catch((error: unknown) => report(error, 'rebuild'))
      .finally(() => {
        rebuilding = undefined
      })
    return rebuilding
  }

  let unchecked = true
  async function checkComplete(): Promise<void> {
    try {
      const markers = await withTimeout(
        mgetAcross(redis, keys.markers),
        options.redisTimeoutMs,
        'Redis MGET markers',
      )
      unchecked = false
      if (markers.includes(null)) void rebuild()
    } catch {
      // Redis is flapping: the timer tries again.
      unchecked = true
      retry()
    }
  }

  return {
    publish,
    defer(entry) {
      if (outbox.size < OUTBOX_MAX) outbox.set(rowKey(entry), entry)
      retry()
    },
    flush,
    repair(entries) {
      whenCommandsReady(() => {
        writeKeys(entries, options).catch(() => {})
      })
    },
    resume() {
      whenCommandsReady(() => {
        flushReported()
        void checkComplete()
      })
    },
    retryNow() {
      if (redis.status !== 'ready') return
      flushReported()
      if (unchecked) void checkComplete()
    },
    rebuild,
    get unpublished() {
      return outbox.size
    },
    get unchecked() {
      return unchecked
    },
    async close() {
      closed = true
      await rebuilding
    },
  }
}
