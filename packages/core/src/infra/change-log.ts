/**
 * The change log: PostgreSQL's `changes` table (migration 0003) read by every instance. A change
 * (a user's permissions or active flag, a session destroyed, a token revoked) is appended by a
 * trigger in the transaction that makes it, whoever the writer is; each instance numbers what has
 * committed and reads what came after its cursor every `pollIntervalMs`, whatever Redis is doing,
 * and tells the caches that subscribed to the topic.
 * A cached copy is stamped with `version` as it was before the copy was read from the database,
 * and `isCurrent` tells whether a copy is older than the latest change of its key. Readers number
 * in turn (migration 0004), so a read sees every change committed before it began: what the
 * layered cache's catch-up after trouble with Redis relies on.
 */
import type { Clock } from '../types.js'
import { invalid, positiveInteger } from '../validate.js'
import { type PostgresRunner, postgresRunner, queryablePool } from './postgres.js'

/** What may change: the caches that listen. */
export type ChangeTopic = 'permissions' | 'sessions' | 'revocations'

/** The part of a `pg` pool or client the log uses. */
export interface ChangeLogQueryable {
  query<R extends Record<string, unknown> = Record<string, unknown>>(config: {
    name?: string
    text: string
    values?: unknown[]
  }): Promise<{ rows: R[] }>
}

export interface ChangeLogOptions {
  /** A `pg` pool on the migrated schema; never ended here. */
  readonly pool: ChangeLogQueryable
  /** How often the log is read. Default 250: a change is seen within about twice this. */
  readonly pollIntervalMs?: number
  /**
   * How far back the latest change of each key is remembered. A cached copy stamped before this
   * window is treated as out of date. Keep it at least as long as the longest cache TTL (the Redis
   * layers': 1800 s and 3600 s by default). Default 3600.
   */
  readonly historySeconds?: number
  /** Most keys remembered; past it the oldest are forgotten (and copies stamped before them are out of date). Default 200 000. */
  readonly maxKeys?: number
  /** Rows read per query. Default 1000. */
  readonly batchSize?: number
  /** Called when a read of the log fails (it is retried on the next period). */
  readonly onError?: (error: unknown) => void
  /** Milliseconds since the epoch. Default `Date.now`. */
  readonly clock?: Clock
}

/** Default options of {@link createChangeLog}. */
export const CHANGE_LOG_DEFAULTS = Object.freeze({
  pollIntervalMs: 250,
  historySeconds: 3600,
  maxKeys: 200_000,
  batchSize: 1000,
})

export type ChangeListener = (key: string, version: number) => void

export interface ChangeLog {
  /**
   * Appends a change that no trigger records (a source other than the migrated tables). Pass the
   * client of an open transaction to make the change part of it (it is then seen once that
   * transaction commits).
   */
  append(topic: ChangeTopic, key: string, client?: ChangeLogQueryable): Promise<void>
  /** Calls `listener` for every change of `topic` read from now on; returns the unsubscribe function. */
  subscribe(topic: ChangeTopic, listener: ChangeListener): () => void
  /**
   * True when a copy of `key` read from the database after the log was read up to `stamp` is
   * still current as far as this instance knows: no later change of the key has been read, and
   * the stamp is not older than what this instance remembers.
   */
  isCurrent(topic: ChangeTopic, key: string, stamp: number): boolean
  /** Reads the log now (what a subscriber should see before it goes on); resolves the new cursor. */
  poll(): Promise<number>
  /** The highest version read so far (0 until the history has been read). */
  readonly version: number
  /** Milliseconds since the log was last read successfully (Infinity before the first read). */
  readonly lagMs: number
  /** Resolves once the log's history has been read (or the log is closed); reads are retried until then. */
  ready(): Promise<void>
  close(): Promise<void>
}

const APPEND = {
  name: 'authframework_change_append_v1',
  text: 'SELECT authframework_change($1, $2)',
}
const NUMBER = {
  name: 'authframework_change_number_v1',
  text: 'SELECT authframework_number_changes()',
}
const HEAD = {
  name: 'authframework_change_head_v1',
  text: `SELECT coalesce(max(version), 0)::float8 AS head,
  coalesce(min(version) FILTER (WHERE changed_at > now() - make_interval(secs => $1)), max(version) + 1, 1)::float8 AS since
FROM changes`,
}
const AFTER = {
  name: 'authframework_change_after_v1',
  text: 'SELECT version::float8 AS version, topic, key FROM changes WHERE version > $1 ORDER BY version LIMIT $2',
}

interface Row extends Record<string, unknown> {
  version: number
  topic: ChangeTopic
  key: string
}

const WHERE = 'createChangeLog'

/**
 * The `changes` option of a store, checked: `undefined`, or a change log.
 *
 * @example
 * const changes = changeLogOption(options.changes, 'createPermissionStore')
 */
export function changeLogOption(value: unknown, where: string): ChangeLog | undefined {
  const log = value as Partial<ChangeLog> | undefined
  if (
    log !== undefined &&
    (typeof log?.subscribe !== 'function' || typeof log.isCurrent !== 'function')
  ) {
    invalid(where, 'changes', 'a change log', 'createChangeLog({ pool })')
  }
  return log as ChangeLog | undefined
}

/**
 * What one instance remembers of the log: the version of each key's latest change (at most
 * `maxKeys`, the oldest forgotten first), and the floor below which a copy's stamp may predate a
 * change it does not remember.
 */
function createHistory(maxKeys: number) {
  /** `topic\0key` → the version of its latest change, oldest first (re-inserted on each change). */
  const latest = new Map<string, number>()
  /** Copies stamped below `floor - 1` may predate a change this instance does not remember. */
  let floor = Number.POSITIVE_INFINITY
  return {
    /** The log's remembered history starts at `since` (read at start-up). */
    startAt(since: number): void {
      floor = since
    },
    remember(topic: ChangeTopic, key: string, version: number): void {
      const id = `${topic}\u0000${key}`
      latest.delete(id)
      latest.set(id, version)
      if (latest.size > maxKeys) {
        const [oldest, at] = latest.entries().next().value as [string, number]
        latest.delete(oldest)
        floor = Math.max(floor, at + 1)
      }
    },
    isCurrent(topic: ChangeTopic, key: string, stamp: number): boolean {
      if (stamp < floor - 1) return false
      const changed = latest.get(`${topic}\u0000${key}`)
      return changed === undefined || changed <= stamp
    },
  }
}

/**
 * Reads the log after `position.cursor` (numbering what has committed first), moving the cursor
 * row by row (what was read before a failure is not read again); the first read (`loaded` false)
 * starts from the history kept for `historySeconds` and tells no listener.
 */
async function readLog(
  runner: PostgresRunner,
  history: ReturnType<typeof createHistory>,
  listeners: ReadonlyMap<ChangeTopic, ReadonlySet<ChangeListener>>,
  position: { cursor: number },
  loaded: boolean,
  limits: { readonly historySeconds: number; readonly batchSize: number },
): Promise<void> {
  await runner.query(NUMBER)
  if (!loaded) {
    const { rows } = await runner.query<{ head: number; since: number }>({
      ...HEAD,
      values: [limits.historySeconds],
    })
    const head = Number(rows[0]?.head ?? 0)
    const floor = Number(rows[0]?.since ?? head + 1)
    history.startAt(floor)
    position.cursor = Math.max(floor - 1, 0)
  }
  for (;;) {
    const { rows } = await runner.query<Row>({
      ...AFTER,
      values: [position.cursor, limits.batchSize],
    })
    for (const row of rows) {
      const version = Number(row.version)
      history.remember(row.topic, row.key, version)
      position.cursor = version
      // history read at start-up informs isCurrent only; listeners hear what is new
      if (loaded) for (const listener of listeners.get(row.topic) ?? []) listener(row.key, version)
    }
    if (rows.length < limits.batchSize) break
  }
}

/**
 * Creates the change log reader and writer of one instance. It starts reading at once and keeps
 * reading every `pollIntervalMs` until `close()`.
 *
 * @example
 * const changes = createChangeLog({ pool })
 * await changes.ready()
 * const store = createPermissionStore({ layers, source: postgresSource({ pool }), changes })
 */
export function createChangeLog(options: ChangeLogOptions): ChangeLog {
  const pool = queryablePool(options?.pool, WHERE)
  const d = CHANGE_LOG_DEFAULTS
  const integer = (value: number | undefined, name: string, fallback: number) =>
    positiveInteger(value ?? fallback, name, fallback, WHERE)
  const pollIntervalMs = integer(options.pollIntervalMs, 'pollIntervalMs', d.pollIntervalMs)
  const limits = {
    historySeconds: integer(options.historySeconds, 'historySeconds', d.historySeconds),
    batchSize: integer(options.batchSize, 'batchSize', d.batchSize),
  }
  const history = createHistory(integer(options.maxKeys, 'maxKeys', d.maxKeys))
  const clock = options.clock ?? Date.now
  const runner = postgresRunner(pool)
  const listeners = new Map<ChangeTopic, Set<ChangeListener>>()
  const position = { cursor: 0 }
  let loaded = false
  let readAt = Number.NEGATIVE_INFINITY
  let closed = false
  let timer: NodeJS.Timeout | undefined
  let reading: Promise<number> | undefined
  let again = false

  async function readAll(): Promise<number> {
    await readLog(runner, history, listeners, position, loaded, limits)
    loaded = true
    markLoaded()
    readAt = clock()
    return position.cursor
  }
  function poll(): Promise<number> {
    if (closed) return Promise.resolve(position.cursor)
    if (reading !== undefined) {
      // a read is under way, but it may have begun before what the caller wants to see
      again = true
      return reading.then(() => poll())
    }
    reading = readAll()
      .catch((error: unknown) => {
        try {
          options.onError?.(error)
        } catch {}
        throw error
      })
      .finally(() => {
        reading = undefined
        schedule()
      })
    return reading
  }

  function schedule(): void {
    clearTimeout(timer)
    if (closed) return
    const delay = again ? 0 : pollIntervalMs
    again = false
    timer = setTimeout(() => poll().catch(() => {}), delay)
    timer.unref()
  }

  let markLoaded: () => void = () => {}
  const whenLoaded = new Promise<void>((resolve) => {
    markLoaded = resolve
  })
  poll().catch(() => {})

  return {
    async append(topic, key, client) {
      const query = { ...APPEND, values: [topic, key] }
      await (client ? client.query(query) : runner.query(query))
    },
    subscribe(topic, listener) {
      let set = listeners.get(topic)
      if (set === undefined) {
        set = new Set()
        listeners.set(topic, set)
      }
      set.add(listener)
      return () => {
        set.delete(listener)
      }
    },
    isCurrent: (topic, key, stamp) => loaded && history.isCurrent(topic, key, stamp),
    poll,
    get version() {
      // before the history is read, nothing is known to be reflected by a copy
      return loaded ? position.cursor : 0
    },
    get lagMs() {
      return clock() - readAt
    },
    ready: () => whenLoaded,
    async close() {
      closed = true
      clearTimeout(timer)
      markLoaded()
      await reading?.catch(() => {})
    },
  }
}
