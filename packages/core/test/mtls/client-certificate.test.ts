import { selfSignedCertificate } from '@authframework/test-support/certificates'
import { describe, expect, it } from 'vitest'
import {
  CONNECTION_CERTIFICATES,
  createClientCertificates,
} from '../../src/mtls/client-certificate.js'
import type { RequestInput } from '../../src/types.js'

const connection = selfSignedCertificate('connection-client')
const forwarded = selfSignedCertificate('forwarded-client')
const header = `:${forwarded.der.toString('base64')}:`

const input = (fields: Partial<RequestInput>): RequestInput => ({
  authorization: undefined,
  ...fields,
})

describe('the client certificates of an instance', () => {
  it('without the mtls option: the TLS connection certificate, never a header', () => {
    const certificates = createClientCertificates(undefined)
    expect(certificates).toBe(CONNECTION_CERTIFICATES)
    expect(certificates.thumbprint(input({ clientCertificate: connection.der }))).toBe(
      connection.thumbprint,
    )
    expect(certificates.thumbprint(input({ headers: { 'client-cert': header } }))).toBeUndefined()
  })

  it('with the mtls option: only the header, never the connection (the proxy is the peer)', () => {
    const certificates = createClientCertificates({
      certificateHeader: 'client-cert',
      headerFormat: 'rfc9440',
      maxHeaderBytes: 8192,
    })
    const both = input({ clientCertificate: connection.der, headers: { 'client-cert': header } })
    expect(certificates.thumbprint(both)).toBe(forwarded.thumbprint)
    expect(certificates.thumbprint(input({ clientCertificate: connection.der }))).toBeUndefined()
    expect(certificates.thumbprint(input({ headers: { 'client-cert': '' } }))).toBeUndefined()
    expect(() => certificates.thumbprint(input({ headers: { 'client-cert': ':AAAA:' } }))).toThrow(
      'The forwarded client certificate is not a DER-encoded certificate.',
    )
  })
})
