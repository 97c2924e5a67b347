/**
 * One shutdown for everything an application wired: closed in order, each step and the whole
 * bounded in time, so that a dependency that no longer answers (a black-holed Redis or
 * PostgreSQL) cannot hold the process.
 */
import type { Pool } from '../peer-types.js'
import { positiveNumber } from '../validate.js'
import { TimeoutError, withTimeout } from './deadline.js'
import { endPostgresPool } from './postgres-pool.js'

/**
 * Anything the library or the application opened: an object with `close()` (auth, stores,
 * revocation lists, session stores, audit sinks, introspectors, change logs), a `pg` pool
 * (`end()`), or an ioredis client (`quit()`, then `disconnect()` when it does not answer).
 */
export type Closable =
  | { close(): unknown }
  | { end(): unknown }
  | { quit(): unknown; disconnect(): unknown }

export interface ShutdownOptions {
  /** The whole shutdown's deadline; each step gets what is left. Default 5000. */
  readonly timeoutMs?: number
}

/** What happened to each step, in order. */
export interface ShutdownReport {
  readonly steps: ReadonlyArray<{
    readonly index: number
    readonly outcome: 'closed' | 'timeout' | 'failed'
  }>
  /** True when every step closed in time. */
  readonly clean: boolean
}

function closeOne(resource: Closable, timeoutMs: number): unknown {
  if ('quit' in resource && typeof resource.quit === 'function') return resource.quit()
  if ('close' in resource && typeof resource.close === 'function') return resource.close()
  // a pool whose connections no longer answer has its sockets destroyed when its time is up
  if ('end' in resource && typeof resource.end === 'function') {
    return endPostgresPool(resource as Pick<Pool, 'end'>, timeoutMs)
  }
  throw new TypeError('shutdown: expected objects with close(), end() or quit().')
}

/**
 * Closes `resources` in the order given (the users of a dependency before the dependency: the
 * auth instance, then stores and lists, then the change log and the audit sink, then pools and
 * Redis clients), within `timeoutMs` in all. A step that does not finish in time is left behind
 * (an ioredis client is disconnected at once); the rest still run. Never rejects.
 *
 * @example
 * process.once('SIGTERM', async () => {
 *   await server.close()
 *   await shutdown([auth, store, revocation, sessions, changes, audit, pool, redis])
 *   process.exit(0)
 * })
 */
export async function shutdown(
  resources: readonly (Closable | undefined | null)[],
  options: ShutdownOptions = {},
): Promise<ShutdownReport> {
  const timeoutMs = positiveNumber(options.timeoutMs ?? 5000, 'timeoutMs', 5000, 'shutdown')
  const deadline = performance.now() + timeoutMs
  const steps: Array<ShutdownReport['steps'][number]> = []
  for (const [index, resource] of resources.entries()) {
    if (resource === undefined || resource === null) continue
    const left = Math.max(1, deadline - performance.now())
    let outcome: 'closed' | 'timeout' | 'failed' = 'closed'
    try {
      await withTimeout(
        Promise.resolve().then(() => closeOne(resource, left)),
        // a pool gets a moment more: endPostgresPool destroys its sockets at `left`
        'end' in resource ? left + 1000 : left,
        'shutdown step',
      )
    } catch (error) {
      outcome = error instanceof TimeoutError ? 'timeout' : 'failed'
      // a Redis client that could not say goodbye is cut: its socket must not keep the process
      if ('disconnect' in resource && typeof resource.disconnect === 'function') {
        try {
          resource.disconnect()
        } catch {}
      }
    }
    steps.push({ index, outcome })
  }
  return { steps, clean: steps.every((step) => step.outcome === 'closed') }
}
