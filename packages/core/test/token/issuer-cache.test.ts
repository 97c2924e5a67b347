import { describe, expect, it, vi } from 'vitest'
import { createIssuerCache } from '../../src/token/issuer-cache.js'
import { authErrorOf, fakeClock } from '../helpers.js'

const BOUNDS = { max: 2, ttlMs: 60_000, negativeTtlMs: 10_000, maxPending: 4 }

function setup(
  load: (iss: string) => unknown = (iss) => (iss.startsWith('known') ? { iss } : undefined),
) {
  const time = fakeClock()
  const calls = vi.fn(load)
  const cache = createIssuerCache(calls as (iss: string) => { iss: string } | undefined, {
    ...BOUNDS,
    clock: time.clock,
  })
  return { cache, calls, time }
}

describe('createIssuerCache', () => {
  it('answers a cached issuer synchronously until ttlMs, then asks again', () => {
    const { cache, calls, time } = setup()
    expect(cache.get('known-a')).toEqual({ iss: 'known-a' })
    expect(cache.get('known-a')).toEqual({ iss: 'known-a' })
    time.advanceSeconds(59)
    cache.get('known-a')
    expect(calls).toHaveBeenCalledTimes(1)
    time.advanceSeconds(1)
    cache.get('known-a')
    expect(calls).toHaveBeenCalledTimes(2)
  })

  it('hands the expired answer to load, and never serves it', () => {
    const answers = new Map([['known-a', { iss: 'known-a', version: 1 }]])
    const { cache, calls, time } = setup((iss) => answers.get(iss))
    cache.get('known-a')
    time.advanceSeconds(60)
    answers.delete('known-a')
    expect(cache.get('known-a')).toBeUndefined()
    expect(calls.mock.calls).toEqual([
      ['known-a', undefined],
      ['known-a', { iss: 'known-a', version: 1 }],
    ])
  })

  it('remembers an unknown issuer for negativeTtlMs', () => {
    const { cache, calls, time } = setup()
    for (let i = 0; i < 3; i++) expect(cache.get('nobody')).toBeUndefined()
    expect(calls).toHaveBeenCalledTimes(1)
    time.advanceSeconds(10)
    cache.get('nobody')
    expect(calls).toHaveBeenCalledTimes(2)
  })

  it('shares one resolution between concurrent first requests', async () => {
    let release!: (value: { iss: string }) => void
    const { cache, calls } = setup(
      () =>
        new Promise((resolve) => {
          release = resolve
        }),
    )
    const first = cache.get('known-a')
    const second = cache.get('known-a')
    expect(second).toBe(first)
    release({ iss: 'known-a' })
    expect(await first).toEqual({ iss: 'known-a' })
    expect(cache.get('known-a')).toEqual({ iss: 'known-a' }) // now synchronous
    expect(calls).toHaveBeenCalledTimes(1)
  })

  it('keeps at most max issuers (the least recently used goes)', () => {
    const { cache, calls } = setup()
    cache.get('known-a')
    cache.get('known-b')
    cache.get('known-c')
    cache.get('known-c')
    cache.get('known-a')
    expect(calls.mock.calls.map(([iss]) => iss)).toEqual([
      'known-a',
      'known-b',
      'known-c',
      'known-a',
    ])
  })

  it('never evicts a known issuer to remember unknown ones', () => {
    const { cache, calls } = setup()
    cache.get('known-a')
    for (let i = 0; i < 50; i++) cache.get(`made-up-${i}`)
    cache.get('known-a')
    expect(calls.mock.calls.filter(([iss]) => iss === 'known-a')).toHaveLength(1)
  })

  it('answers 503 at once past maxPending resolutions in flight', async () => {
    const { cache } = setup(() => new Promise(() => {}))
    for (let i = 0; i < BOUNDS.maxPending; i++) void cache.get(`known-${i}`)
    const error = await authErrorOf(() => cache.get('known-late'))
    expect({ code: error.code, dependency: error.dependency, message: error.message }).toEqual({
      code: 'auth_unavailable',
      dependency: 'issuers',
      message: 'Too many issuer resolutions are in flight.',
    })
  })

  it('turns a failing resolver into a 503, answered again for a second before it is retried', async () => {
    const { cache, calls, time } = setup(async () => {
      throw new Error('connect ECONNREFUSED')
    })
    const error = await authErrorOf(() => cache.get('known-a'))
    expect({ code: error.code, dependency: error.dependency }).toEqual({
      code: 'auth_unavailable',
      dependency: 'issuers',
    })
    expect((error.cause as Error).message).toBe('connect ECONNREFUSED')
    expect(await authErrorOf(() => cache.get('known-a'))).toBe(error)
    expect(calls).toHaveBeenCalledTimes(1)
    time.advanceSeconds(1)
    await authErrorOf(() => cache.get('known-a'))
    expect(calls).toHaveBeenCalledTimes(2)
  })

  it('clear() forgets every answer', () => {
    const { cache, calls } = setup()
    cache.get('known-a')
    cache.get('nobody')
    cache.clear()
    cache.get('known-a')
    cache.get('nobody')
    expect(calls).toHaveBeenCalledTimes(4)
  })
})
