import { selfSignedCertificate } from '@authframework/test-support/certificates'
import { describe, expect, it } from 'vitest'
import {
  certificateThumbprint,
  connectionThumbprint,
  isDerSequence,
} from '../../src/mtls/thumbprint.js'

const client = selfSignedCertificate('thumbprint-test')

describe('certificateThumbprint', () => {
  it('is base64url SHA-256 of the DER, without padding (RFC 8705 section 3.1)', () => {
    // the expected value comes from OpenSSL's own SHA-256 fingerprint of the certificate
    expect(certificateThumbprint(client.der)).toBe(client.thumbprint)
    expect(client.thumbprint).toMatch(/^[A-Za-z0-9_-]{43}$/)
  })
})

describe('connectionThumbprint', () => {
  it('is the thumbprint, for each buffer', () => {
    expect(connectionThumbprint(Buffer.from(client.der))).toBe(client.thumbprint)
    expect(connectionThumbprint(Buffer.from(client.der))).toBe(client.thumbprint)
  })

  it('returns the memoised value for the same buffer (one hash per connection)', () => {
    const der = Buffer.from(client.der)
    const first = connectionThumbprint(der)
    der[der.length - 1]! ^= 0xff // never done to a connection's buffer: shows the memo is used
    expect(connectionThumbprint(der)).toBe(first)
    expect(certificateThumbprint(der)).not.toBe(first)
  })
})

describe('isDerSequence', () => {
  it('accepts a certificate', () => {
    expect(isDerSequence(client.der)).toBe(true)
    expect(isDerSequence(Buffer.from([0x30, 0x00]))).toBe(true)
    expect(isDerSequence(Buffer.from([0x30, 0x81, 0x80, ...new Array(0x80).fill(0)]))).toBe(true)
  })

  it.each([
    ['empty', []],
    ['another tag', [0x31, 0x00]],
    ['truncated', [0x30, 0x03, 0x01]],
    ['trailing bytes', [0x30, 0x00, 0x00]],
    ['indefinite length', [0x30, 0x80, 0x00, 0x00]],
    ['long form for a short length', [0x30, 0x81, 0x01, 0x00]],
    ['a leading zero length octet', [0x30, 0x82, 0x00, 0x80]],
    ['five length octets', [0x30, 0x85, 0x01, 0x00, 0x00, 0x00, 0x00]],
    ['length octets missing', [0x30, 0x82, 0x01]],
  ])('refuses %s', (_name, bytes) => {
    expect(isDerSequence(Buffer.from(bytes))).toBe(false)
  })

  it('refuses a certificate with a byte more or less', () => {
    expect(isDerSequence(Buffer.concat([client.der, Buffer.from([0])]))).toBe(false)
    expect(isDerSequence(client.der.subarray(0, -1))).toBe(false)
  })
})
