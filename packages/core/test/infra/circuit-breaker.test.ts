import { describe, expect, it } from 'vitest'
import { createCircuitBreaker } from '../../src/infra/circuit-breaker.js'

describe('createCircuitBreaker', () => {
  it('opens after the threshold of consecutive failures, probes once when half-open, closes on success', () => {
    let now = 1_000
    const breaker = createCircuitBreaker({ failureThreshold: 3, openMs: 500, clock: () => now })
    breaker.failure()
    breaker.failure()
    breaker.success() // resets the count
    breaker.failure()
    breaker.failure()
    expect(breaker.allow()).toBe(true)
    breaker.failure()
    expect(breaker.state).toBe('open')
    expect(breaker.allow()).toBe(false)

    now += 499
    expect(breaker.allow()).toBe(false)
    now += 1
    expect(breaker.state).toBe('half-open')
    expect(breaker.allow()).toBe(true) // the probe
    expect(breaker.allow()).toBe(false) // everyone else waits for it
    breaker.success()
    expect(breaker.state).toBe('closed')
    expect(breaker.allow()).toBe(true)
  })

  it('reopens for a full period when the probe fails', () => {
    let now = 0
    const breaker = createCircuitBreaker({ failureThreshold: 1, openMs: 100, clock: () => now })
    breaker.failure()
    now = 100
    expect(breaker.allow()).toBe(true)
    breaker.failure()
    expect(breaker.state).toBe('open')
    now = 199
    expect(breaker.allow()).toBe(false)
    now = 200
    expect(breaker.allow()).toBe(true)
  })

  it('rejects bad configuration at construction, naming the option', () => {
    expect(() => createCircuitBreaker({ failureThreshold: 0 })).toThrow(/failureThreshold/)
    expect(() => createCircuitBreaker({ openMs: -1 })).toThrow(/openMs/)
  })
})
