/**
 * A `node:diagnostics_channel` subscriber: the events an APM or OpenTelemetry would trace, read
 * here without any dependency.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { CHANNELS, type Outcome } from '@authframework/core'

/** What the core publishes on `CHANNELS.authenticate` after each authentication. */
interface AuthenticateEvent {
  readonly outcome: Outcome
  readonly durationMs: number
  readonly sub?: string
}

/**
 * Prints one line for each failed authentication and each one that took `thresholdMs` or longer:
 * the outcome and the duration only (the event carries no token, and the subject is left out).
 * Returns the function that unsubscribes.
 *
 * @example
 * const stop = logSlowAuthentications(25)
 * // [auth] failed: token_expired in 0.4 ms
 * // [auth] slow: ok in 31.2 ms
 * stop()
 */
export function logSlowAuthentications(
  thresholdMs: number,
  log: (line: string) => void = console.warn,
): () => void {
  if (typeof thresholdMs !== 'number' || !(thresholdMs >= 0)) {
    throw new TypeError('logSlowAuthentications: thresholdMs must be a number >= 0, e.g. 25.')
  }
  const onMessage = (message: unknown) => {
    const { outcome, durationMs } = message as AuthenticateEvent
    const failed = outcome !== 'ok' && outcome !== 'anonymous'
    if (!failed && durationMs < thresholdMs) return
    log(`[auth] ${failed ? 'failed' : 'slow'}: ${outcome} in ${durationMs.toFixed(1)} ms`)
  }
  subscribe(CHANNELS.authenticate, onMessage)
  return () => {
    unsubscribe(CHANNELS.authenticate, onMessage)
  }
}
