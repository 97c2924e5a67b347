import type { AuthError } from './errors.js'
import type { Clock, RevocationEntry } from './types.js'

/** A pino-compatible logger: `logger.warn(object, message)`. */
export interface SecurityLogger {
  info(object: Record<string, unknown>, message?: string): void
  warn(object: Record<string, unknown>, message?: string): void
  error(object: Record<string, unknown>, message?: string): void
}

/** Security events, as logged. Nothing here can hold a token, a secret, a password or a header. */
export interface SecurityLog {
  failure(error: AuthError, clientAddress: string | undefined): void
  revoked(entry: RevocationEntry): void
}

/** Failure lines per second before the rest are counted and reported in one line. */
const FAILURES_PER_SECOND = 50

/**
 * Logs authentication failures (with their code and client address), revocations and faults.
 * A flood of bad requests is bounded: past 50 failure lines a second the rest are only counted.
 * Fault causes are reduced to their error name and code (a driver message may carry a URL with a
 * password).
 */
export function createSecurityLog(logger: SecurityLogger, clock: Clock): SecurityLog {
  let window = 0
  let inWindow = 0
  let suppressed = 0
  return {
    failure(error, clientAddress) {
      const second = Math.floor(clock() / 1000)
      if (second !== window) {
        if (suppressed > 0)
          logger.warn(
            { event: 'auth_failures_suppressed', count: suppressed },
            'authentication failures not logged',
          )
        window = second
        inWindow = 0
        suppressed = 0
      }
      if (++inWindow > FAILURES_PER_SECOND) {
        suppressed++
        return
      }
      const event: Record<string, unknown> = {
        event: 'auth_failure',
        code: error.code,
        status: error.status,
      }
      if (clientAddress !== undefined) event.clientAddress = clientAddress
      if (error.code === 'auth_unavailable') {
        const cause = error.cause as { name?: unknown; code?: unknown } | undefined
        event.dependency = error.dependency
        if (cause !== undefined) event.cause = { name: cause?.name, code: cause?.code }
        logger.error(event, 'authentication dependency unavailable')
      } else {
        logger.warn(event, 'authentication failed')
      }
    },
    revoked(entry) {
      const event: Record<string, unknown> = {
        event: 'revocation',
        kind: entry.kind,
        expiresAt: entry.expiresAt,
      }
      if (entry.kind === 'subject') event.sub = entry.sub
      logger.info(event, 'credentials revoked')
    },
  }
}

/**
 * One logger for two (the user's logger and the audit sink), either of which may be absent.
 *
 * @example
 * const logger = combineLoggers(options.logger, options.audit)
 */
export function combineLoggers(
  a: SecurityLogger | undefined,
  b: SecurityLogger | undefined,
): SecurityLogger | undefined {
  if (a === undefined || b === undefined) return a ?? b
  return {
    info: (o, m) => {
      a.info(o, m)
      b.info(o, m)
    },
    warn: (o, m) => {
      a.warn(o, m)
      b.warn(o, m)
    },
    error: (o, m) => {
      a.error(o, m)
      b.error(o, m)
    },
  }
}
