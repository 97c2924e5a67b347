import { createSecretKey } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { createDpopNonces } from '../../src/dpop/nonce.js'
import { fakeClock } from '../helpers.js'

const secret = createSecretKey(Buffer.alloc(32, 1))

describe('createDpopNonces', () => {
  it('accepts the current and the previous step, nothing older', () => {
    const time = fakeClock()
    const nonces = createDpopNonces(secret, 300, time.clock)
    const first = nonces.current()
    expect(nonces.accepts(first)).toBe(true)
    time.advanceSeconds(300)
    expect(nonces.current()).not.toBe(first)
    expect(nonces.accepts(first)).toBe(true)
    time.advanceSeconds(300)
    expect(nonces.accepts(first)).toBe(false)
    expect(nonces.accepts(undefined)).toBe(false)
    expect(nonces.accepts(7)).toBe(false)
  })

  it('is the same on every instance with the secret, and differs with another secret', () => {
    const time = fakeClock()
    const a = createDpopNonces(secret, 300, time.clock)
    const b = createDpopNonces(createSecretKey(Buffer.alloc(32, 1)), 300, time.clock)
    const other = createDpopNonces(createSecretKey(Buffer.alloc(32, 2)), 300, time.clock)
    expect(b.accepts(a.current())).toBe(true)
    expect(other.accepts(a.current())).toBe(false)
  })
})
