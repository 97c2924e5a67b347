import { describe, expect, it } from 'vitest'
import { createMemoryReplayStore } from '../../src/dpop/replay.js'
import { authErrorOf, fakeClock } from '../helpers.js'

describe('createMemoryReplayStore', () => {
  it('accepts a key once while it lives, and again after it expired', () => {
    const time = fakeClock()
    const store = createMemoryReplayStore(10, time.clock)
    expect(store.reserve('a', 60_000)).toBe(true)
    expect(store.reserve('a', 60_000)).toBe(false)
    time.advanceSeconds(59)
    expect(store.reserve('a', 60_000)).toBe(false)
    time.advanceSeconds(1)
    expect(store.reserve('a', 60_000)).toBe(true)
  })

  it('is bounded: expired entries make room; live ones are never forgotten early (503)', async () => {
    const time = fakeClock()
    const store = createMemoryReplayStore(2, time.clock)
    expect(store.reserve('a', 1000)).toBe(true)
    expect(store.reserve('b', 60_000)).toBe(true)
    const full = await authErrorOf(() => store.reserve('c', 1000))
    expect([full.code, full.status, full.dependency]).toEqual(['auth_unavailable', 503, 'dpop'])
    time.advanceSeconds(1)
    expect(store.reserve('c', 1000)).toBe(true)
    expect(store.reserve('b', 60_000)).toBe(false)
  })
})
