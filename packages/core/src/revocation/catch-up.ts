/**
 * The PostgreSQL side of the distributed revocation list: the catch-up reads that keep the memory
 * list up to date from the record (all of it at start-up, then what changed since the last read,
 * with an overlap for late commits), the scheduler that runs them (and the list's Redis retries),
 * and the reads by key of the revocations heard from the change log.
 */
import type { ChangeLog } from '../infra/change-log.js'
import type { RevocationEntry } from '../types.js'
import type { RevocationMode } from './list-options.js'
import type { createMemoryRevocationList } from './memory.js'
import type { RevocationCursor, RevocationSource } from './postgres.js'

/** How long after a (re)subscription a second catch-up read runs, for rows committed late. */
const LATE_COMMIT_MS = 5000
/** The longest wait between ticks while something is left to do (the first read, Redis work). */
const RETRY_MS = 1000

export interface CatchUpOptions {
  readonly source: RevocationSource
  /** The list every read is applied to. */
  readonly memory: ReturnType<typeof createMemoryRevocationList>
  readonly mode: RevocationMode
  /** The memory list's bound: a read stops there (with a warning). */
  readonly max: number
  readonly pageSize: number
  readonly catchUpOverlapSeconds: number
  readonly syncIntervalMs: number | false
  readonly outageSyncIntervalMs: number | false
  readonly changes: ChangeLog | undefined
  /** Subscribed, and the command connection works: the long interval applies. */
  readonly connected: () => boolean
  /** Redis work is left over: tick within a second. */
  readonly redisPending: () => boolean
  /** Runs first on every tick: the list's Redis retries. */
  readonly onTick: () => void
  /** Rows read after the first load: written back to the denylist (Redis may have lost them). */
  readonly repair: (entries: readonly RevocationEntry[]) => void
  /** Something failed (a read, applying an entry). Must not throw. */
  readonly report: (error: unknown, operation: 'sync' | 'apply') => void
}

export interface CatchUp {
  /** Reads what changed since the last read now; resolves to the number of entries applied. */
  sync(): Promise<number>
  /** The read running now, if any. */
  readonly running: Promise<number> | undefined
  /** The first read has completed (always, in `strict` mode). */
  readonly loaded: boolean
  /** Sets the timer for the next tick from the state of things. */
  schedule(): void
  /** The channel was (re)subscribed: read now, and once more a little later. */
  subscribed(): void
  /** The subscription was lost: read now (then every `outageSyncIntervalMs`). */
  lost(): void
  /** Stops the timers and the change log listener; waits for the running read. */
  close(): Promise<void>
}

/** Reads the changes since `sinceUs` page by page into the memory list, at most `max` entries. */
async function readPages(
  options: CatchUpOptions,
  sinceUs: bigint,
  keep: boolean,
  isClosed: () => boolean,
): Promise<{ count: number; changed: RevocationEntry[]; full: boolean }> {
  const { source, memory, max, pageSize } = options
  let after: RevocationCursor | undefined = { changedAtUs: String(sinceUs), key: '' }
  let count = 0
  const changed: RevocationEntry[] = []
  while (after !== undefined && !isClosed()) {
    const page = await source.page(after, pageSize)
    for (const entry of page.entries) {
      try {
        memory.apply(entry)
      } catch {
        count = max // full: stop loading, warn below
      }
    }
    count += page.entries.length
    if (keep) changed.push(...page.entries)
    after = page.next
    // Bounded: the local list cannot hold more anyway. Strict mode has no such limit.
    if (count >= max && after !== undefined) return { count, changed, full: true }
  }
  return { count, changed, full: false }
}

/**
 * Follows the change log: the rows of the revocations heard from it are read by key, the keys of
 * one tick in one query, applied to memory and written back to the denylist (a revoker cut off
 * from Redis could not write them there). PostgreSQL is the record. Returns the unsubscribe.
 */
function followChanges(
  options: CatchUpOptions,
  sync: () => Promise<number>,
  isClosed: () => boolean,
): (() => void) | undefined {
  const { source, memory, pageSize, report } = options
  const heard = new Set<string>()
  async function readHeard(): Promise<void> {
    const keys = [...heard]
    heard.clear()
    for (let i = 0; i < keys.length && !isClosed(); i += pageSize) {
      let entries: readonly RevocationEntry[]
      try {
        entries = await source.findLive(keys.slice(i, i + pageSize))
      } catch (error) {
        report(error, 'sync')
        // the catch-up reads the same rows, and is retried by its timer while PostgreSQL fails
        sync().catch(() => {})
        return
      }
      memory.applyEach(entries, (error) => report(error, 'apply'))
      if (entries.length > 0) options.repair(entries)
    }
  }
  return options.changes?.subscribe('revocations', (key) => {
    heard.add(key)
    if (heard.size === 1) queueMicrotask(() => void readHeard())
  })
}

/**
 * Creates the catch-up of a distributed revocation list. In `local` mode it starts the first read
 * at once.
 *
 * @example
 * const catchUp = createCatchUp({ source, memory, mode: 'local', ... })
 * await catchUp.sync()
 */
export function createCatchUp(options: CatchUpOptions): CatchUp {
  const { source, mode, max, report } = options
  const { syncIntervalMs, outageSyncIntervalMs } = options
  let closed = false
  let loaded = mode === 'strict'
  let syncedAtUs: bigint | undefined
  let warnedFull = false
  const isClosed = () => closed

  async function readChanges(): Promise<number> {
    const first = syncedAtUs === undefined
    const startUs = BigInt(await source.now())
    const sinceUs = first ? 0n : syncedAtUs! - BigInt(options.catchUpOverlapSeconds) * 1_000_000n
    const { count, changed, full } = await readPages(options, sinceUs, !first, isClosed)
    if (full && !warnedFull) {
      warnedFull = true
      process.emitWarning(
        `Revocation list: more than ${max} live revocations; raise \`max\` or use mode 'strict'.`,
        { code: 'AUTHFRAMEWORK_REVOCATION_LIST_FULL' },
      )
    }
    syncedAtUs = startUs
    loaded = true
    // Redis may have lost what was set while this instance was away (a restart from an old snapshot).
    // Best effort: a full loss is detected by the completeness marker and rebuilt.
    if (changed.length > 0) options.repair(changed)
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
      syncing.catch((error: unknown) => report(error, 'sync'))
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
      delay = outageSyncIntervalMs === false ? RETRY_MS : Math.min(outageSyncIntervalMs, RETRY_MS)
    } else if (mode === 'strict') delay = false
    else delay = options.connected() ? syncIntervalMs : outageSyncIntervalMs
    if (options.redisPending()) delay = Math.min(delay === false ? RETRY_MS : delay, RETRY_MS)
    if (delay === false) return
    timer = setTimeout(tick, delay)
    timer.unref()
  }

  function tick(): void {
    timer = undefined
    options.onTick()
    if (mode === 'local') sync().catch(() => {})
    else schedule()
  }

  const unfollow = followChanges(options, sync, isClosed)
  let lateRead: NodeJS.Timeout | undefined
  if (mode === 'local') sync().catch(() => {})

  return {
    sync,
    get running() {
      return syncing
    },
    get loaded() {
      return loaded
    },
    schedule,
    subscribed() {
      // Read after subscribing (again after a reconnect): what was published while this instance
      // was not subscribed is in PostgreSQL, and what is published from now on arrives here. A
      // revocation is published while its row is being written, so a message missed just before
      // the subscription may belong to a row not yet committed: read once more a little later.
      if (mode !== 'local') return
      sync().catch(() => {})
      clearTimeout(lateRead)
      lateRead = setTimeout(() => sync().catch(() => {}), LATE_COMMIT_MS)
      lateRead.unref()
    },
    lost() {
      // Messages may be missed from now on: read PostgreSQL at once, then every outageSyncIntervalMs.
      if (mode === 'local' && loaded && outageSyncIntervalMs !== false) sync().catch(() => {})
      else schedule()
    },
    async close() {
      closed = true
      clearTimeout(timer)
      clearTimeout(lateRead)
      unfollow?.()
      await syncing?.catch(() => {})
    },
  }
}
