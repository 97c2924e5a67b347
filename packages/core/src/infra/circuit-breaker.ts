/**
 * A consecutive-failure circuit breaker: after `failureThreshold` failures in a row it opens and
 * refuses calls for `openMs`, so callers stop paying a dead dependency's timeout on every request.
 * Then one probe call is let through (half-open): success closes the circuit, failure opens it again.
 */
import type { Clock } from '../types.js'
import { func, positiveInteger, positiveNumber } from '../validate.js'
import { withTimeout } from './deadline.js'

export type CircuitState = 'closed' | 'open' | 'half-open'

export interface CircuitBreakerOptions {
  /** Consecutive failures that open the circuit. Default 3. */
  readonly failureThreshold?: number
  /** How long the circuit stays open before one probe is allowed. Default 5000. */
  readonly openMs?: number
  /** Milliseconds since the epoch; inject to test without sleeping. Default `Date.now`. */
  readonly clock?: Clock
}

export interface CircuitBreaker {
  /** True when a call may go ahead. In half-open state only the first caller gets `true` (the probe). */
  allow(): boolean
  /** Report the outcome of an allowed call. */
  success(): void
  failure(): void
  readonly state: CircuitState
}

/** A call was refused because the circuit is open. */
export class CircuitOpenError extends Error {
  override readonly name = 'CircuitOpenError'
  constructor(what: string) {
    super(`${what} is failing; calls are suspended for a short while.`)
  }
}

const WHERE = 'createCircuitBreaker'

/** Default `failureThreshold` and `openMs`. */
export const CIRCUIT_BREAKER_DEFAULTS = Object.freeze({ failureThreshold: 3, openMs: 5000 })

/**
 * Creates a circuit breaker.
 *
 * @example
 * const breaker = createCircuitBreaker({ failureThreshold: 3, openMs: 5000 })
 * if (!breaker.allow()) throw new CircuitOpenError('Redis')
 * try { const v = await call(); breaker.success(); return v } catch (e) { breaker.failure(); throw e }
 */
export function createCircuitBreaker(options: CircuitBreakerOptions = {}): CircuitBreaker {
  const failureThreshold = options.failureThreshold ?? CIRCUIT_BREAKER_DEFAULTS.failureThreshold
  const openMs = options.openMs ?? CIRCUIT_BREAKER_DEFAULTS.openMs
  const clock = options.clock ?? Date.now
  positiveInteger(failureThreshold, 'breaker.failureThreshold', 3, WHERE)
  positiveNumber(openMs, 'breaker.openMs', 5000, WHERE)
  func(clock, 'breaker.clock', 'Date.now', WHERE)

  let failures = 0
  let openedAt = 0
  let state: CircuitState = 'closed'
  let probing = false

  function open(): void {
    state = 'open'
    openedAt = clock()
    probing = false
  }

  return {
    get state() {
      if (state === 'open' && clock() - openedAt >= openMs) return 'half-open'
      return state
    },
    allow() {
      if (state === 'closed') return true
      if (state === 'open') {
        if (clock() - openedAt < openMs) return false
        state = 'half-open'
        probing = false
      }
      if (probing) return false
      probing = true
      return true
    },
    success() {
      failures = 0
      state = 'closed'
      probing = false
    },
    failure() {
      if (state === 'half-open') return open()
      failures++
      if (state === 'closed' && failures >= failureThreshold) open()
    },
  }
}

/**
 * One call to a dependency through its breaker, with a deadline: refused at once while the circuit
 * is open, and its outcome (a timeout counts as a failure) reported to the breaker.
 *
 * @example
 * const value = await guardedCall(breaker, 'Redis', 'GET', () => redis.get(key), 250)
 */
export async function guardedCall<T>(
  breaker: CircuitBreaker,
  dependency: string,
  what: string,
  call: () => Promise<T>,
  timeoutMs: number,
): Promise<T> {
  if (!breaker.allow()) throw new CircuitOpenError(dependency)
  try {
    const result = await withTimeout(call(), timeoutMs, `${dependency} ${what}`)
    breaker.success()
    return result
  } catch (error) {
    breaker.failure()
    throw error
  }
}
