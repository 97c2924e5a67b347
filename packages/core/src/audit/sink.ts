import { TimeoutError, withTimeout } from '../infra/deadline.js'
import { POSTGRES_RUNNER_DEFAULTS, postgresRunner, queryablePool } from '../infra/postgres.js'
import type { SecurityLogger } from '../logging.js'
import { positiveInteger } from '../validate.js'

/** The part of a pg `Pool` the sink uses. */
export interface Queryable {
  query(text: string, values?: unknown[]): Promise<unknown>
}

export interface AuditSinkOptions {
  readonly pool: Queryable
  /** Rows per INSERT. Default 100. */
  readonly batchSize?: number
  /** Write what is queued at least this often. Default 1000. */
  readonly flushIntervalMs?: number
  /** Events kept while writes lag; past it new events are dropped and counted. Default 10 000. */
  readonly maxQueue?: number
  /**
   * Deadline of one batch's INSERT, checkout included. A write that outlives it is dropped (and
   * counted), its connection destroyed, and the next batch goes on. Default 2000.
   */
  readonly timeoutMs?: number
  /** Most time `close()` waits for the last writes; what is still queued then is dropped and counted. Default 5000. */
  readonly closeTimeoutMs?: number
  /** Called when a batch cannot be written (the batch is dropped, never retried without bound). */
  readonly onError?: (error: unknown) => void
}

/** A security-event logger that writes to `audit_log` in batches. */
export interface AuditSink extends SecurityLogger {
  /** Writes everything queued now. */
  flush(): Promise<void>
  /** Flushes and stops the timer, within `closeTimeoutMs` whatever PostgreSQL does. */
  close(): Promise<void>
  /** Events dropped because the queue was full or a write failed. */
  readonly dropped: number
  readonly pending: number
}

const INSERT = `INSERT INTO audit_log (user_id, event_type, details)
SELECT * FROM unnest($1::text[], $2::text[], $3::jsonb[])`

/**
 * Writes security events (`auth_failure`, `revocation`, ...) to the `audit_log` table in
 * batches: one INSERT of up to `batchSize` rows, at least every `flushIntervalMs`. Memory is
 * bounded by `maxQueue`: a flood of failures is counted in `dropped`, never queued without limit.
 * The timer does not keep the process alive. Pass it as `createAuth({ audit })`.
 *
 * @example
 * const audit = createAuditSink({ pool })
 * const auth = createAuth({ ...options, audit })
 */
export function createAuditSink(options: AuditSinkOptions): AuditSink {
  const batchSize = options.batchSize ?? 100
  const maxQueue = options.maxQueue ?? 10_000
  const flushIntervalMs = options.flushIntervalMs ?? 1000
  const timeoutMs = options.timeoutMs ?? POSTGRES_RUNNER_DEFAULTS.timeoutMs
  const closeTimeoutMs = options.closeTimeoutMs ?? 5000
  for (const [name, value, example] of [
    ['batchSize', batchSize, 100],
    ['maxQueue', maxQueue, 10_000],
    ['flushIntervalMs', flushIntervalMs, 1000],
    ['timeoutMs', timeoutMs, POSTGRES_RUNNER_DEFAULTS.timeoutMs],
    ['closeTimeoutMs', closeTimeoutMs, 5000],
  ] as const) {
    positiveInteger(value, name, example, 'createAuditSink')
  }
  const runner = postgresRunner(queryablePool(options.pool, 'createAuditSink'))
  const queue: [userId: string | null, eventType: string, details: string][] = []
  let dropped = 0
  let closed = false
  let writing: Promise<void> = Promise.resolve()
  const timer = setInterval(() => void flush(), flushIntervalMs)
  timer.unref()

  function push(object: Record<string, unknown>): void {
    if (closed || queue.length >= maxQueue) {
      dropped++
      return
    }
    const { event, sub, ...details } = object
    queue.push([
      typeof sub === 'string' ? sub : null,
      typeof event === 'string' ? event : 'security_event',
      JSON.stringify(details),
    ])
    if (queue.length >= batchSize) void flush()
  }

  function flush(): Promise<void> {
    writing = writing.then(async () => {
      while (queue.length > 0) {
        const batch = queue.splice(0, batchSize)
        try {
          await runner.query(
            {
              text: INSERT,
              values: [batch.map((r) => r[0]), batch.map((r) => r[1]), batch.map((r) => r[2])],
            },
            { timeoutMs },
          )
        } catch (error) {
          dropped += batch.length
          options.onError?.(error)
        }
      }
    })
    return writing
  }

  return {
    info: push,
    warn: push,
    error: push,
    flush,
    async close() {
      clearInterval(timer)
      closed = true
      try {
        await withTimeout(flush(), closeTimeoutMs, 'Audit sink close')
      } catch (error) {
        if (!(error instanceof TimeoutError)) throw error
        // the write under way ends at its own deadline; what waits behind it is given up
        dropped += queue.splice(0).length
      }
    },
    get dropped() {
      return dropped
    },
    get pending() {
      return queue.length
    },
  }
}
