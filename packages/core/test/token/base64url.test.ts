import { describe, expect, it } from 'vitest'
import { isCanonicalBase64url, isStandardBase64 } from '../../src/token/base64url.js'

describe('isStandardBase64', () => {
  it.each(['dXNlcjpwdw==', 'YWJj', 'YQ==', 'YWI=', '+/+/'])('accepts padded %j', (value) => {
    expect(isStandardBase64(value)).toBe(true)
    expect(isStandardBase64(value, 'optional')).toBe(true)
  })

  it.each(['YQ', 'YWI', 'dXNlcjpwdw'])('accepts %j without padding only when optional', (value) => {
    expect(isStandardBase64(value)).toBe(false)
    expect(isStandardBase64(value, 'optional')).toBe(true)
  })

  it.each(['', '====', '==', 'Y', 'YWJjZ', 'YQ===', 'Y=Q=', 'YQ=', 'YW-_', 'YW J', 'YWJj\n'])(
    'refuses %j',
    (value) => {
      expect(isStandardBase64(value)).toBe(false)
      expect(isStandardBase64(value, 'optional')).toBe(false)
    },
  )
})

describe('isCanonicalBase64url', () => {
  it('accepts a SHA-256 in base64url and refuses set unused bits', () => {
    const t = 'bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2'.slice(0, 42)
    expect(isCanonicalBase64url(`${t}A`, 0, 43)).toBe(true)
    expect(isCanonicalBase64url(`${t}B`, 0, 43)).toBe(false)
  })
})
