/**
 * Where the client certificate of a request comes from, for certificate-bound tokens (RFC 8705):
 * the TLS connection itself, or, behind a TLS-terminating proxy, the one header the `mtls` option
 * names. Never both: behind a proxy the connection's certificate (if any) is the proxy's.
 */
import type { RequestInput } from '../types.js'
import { type CertificateHeaderFormat, forwardedCertificate } from './forwarded.js'
import { certificateThumbprint, connectionThumbprint } from './thumbprint.js'

/** The `mtls` option, validated. */
export interface ResolvedMtlsOptions {
  /** Lower-case header name. */
  readonly certificateHeader: string
  readonly headerFormat: CertificateHeaderFormat
  readonly maxHeaderBytes: number
}

/** The client certificate of each request, as the thumbprint a bound token is compared with. */
export interface ClientCertificates {
  /**
   * base64url SHA-256 of the DER of the request's client certificate, or `undefined` when the
   * request has none. Throws 401 `token_invalid` for a malformed forwarded certificate.
   */
  thumbprint(input: RequestInput): string | undefined
}

/** The certificate of the TLS connection (`RequestInput.clientCertificate`). */
export const CONNECTION_CERTIFICATES: ClientCertificates = Object.freeze({
  thumbprint(input: RequestInput) {
    const der = input.clientCertificate
    return der === undefined ? undefined : connectionThumbprint(der)
  },
})

/**
 * The client certificates of an instance: the connection's without the `mtls` option, else only
 * the configured header's. A forwarded certificate is hashed on each request: a proxy's connection
 * carries many clients, so nothing about it can be kept per connection.
 *
 * @example
 * const certificates = createClientCertificates({ certificateHeader: 'client-cert', headerFormat: 'rfc9440', maxHeaderBytes: 8192 })
 * certificates.thumbprint(input) // 'bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2'
 */
export function createClientCertificates(
  options: ResolvedMtlsOptions | undefined,
): ClientCertificates {
  if (options === undefined) return CONNECTION_CERTIFICATES
  const { certificateHeader, headerFormat, maxHeaderBytes } = options
  return Object.freeze({
    thumbprint(input: RequestInput) {
      const value = input.headers?.[certificateHeader]
      if (value === undefined || value === '') return undefined
      return certificateThumbprint(forwardedCertificate(value, headerFormat, maxHeaderBytes))
    },
  })
}
