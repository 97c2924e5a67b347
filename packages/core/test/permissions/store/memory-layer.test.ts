import { describe, expect, it } from 'vitest'
import { memoryLayer } from '../../../src/permissions/store/index.js'

const record = Object.freeze({ permissions: Object.freeze(['a']) })

describe('memoryLayer', () => {
  it('keeps records for ttlSeconds and negative entries for negativeTtlSeconds', () => {
    const t0 = 1_700_000_000_000
    let now = t0
    const layer = memoryLayer({ ttlSeconds: 300, negativeTtlSeconds: 30, clock: () => now })
    layer.setMany([
      ['u1', record],
      ['ghost', null],
    ])
    expect(layer.getMany(['u1', 'ghost', 'other'])).toEqual([record, null, undefined])
    now = t0 + 30_000
    expect(layer.get('ghost')).toBeNull()
    now = t0 + 30_001
    expect(layer.get('ghost')).toBeUndefined()
    now = t0 + 300_000
    expect(layer.get('u1')).toBe(record)
    now = t0 + 300_001
    expect(layer.get('u1')).toBeUndefined()
  })

  it('evicts the least recently used beyond max', () => {
    const layer = memoryLayer({ max: 2 })
    layer.set('a', record)
    layer.set('b', record)
    layer.get('a')
    layer.set('c', record)
    expect(layer.get('b')).toBeUndefined()
    expect(layer.get('a')).toBe(record)
  })

  it('rejects bad configuration at construction, naming the option', () => {
    expect(() => memoryLayer({ max: 0 })).toThrow(/max/)
    expect(() => memoryLayer({ ttlSeconds: Number.NaN })).toThrow(/ttlSeconds/)
    expect(() => memoryLayer({ negativeTtlSeconds: -1 })).toThrow(/negativeTtlSeconds/)
  })
})
