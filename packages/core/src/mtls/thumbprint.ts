/**
 * RFC 8705 certificate thumbprints: base64url SHA-256 of a certificate's DER encoding, the value a
 * certificate-bound token carries in `cnf["x5t#S256"]`.
 */
import * as crypto from 'node:crypto'

/**
 * The `x5t#S256` thumbprint of a DER-encoded certificate: base64url, no padding.
 *
 * @example
 * certificateThumbprint(new X509Certificate(pem).raw) // 'bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2'
 */
export const certificateThumbprint: (der: Uint8Array) => string =
  // one-shot crypto.hash (Node 20.12+) is the fast path; createHash serves older Node 20 releases
  typeof crypto.hash === 'function'
    ? (der) => crypto.hash('sha256', der, 'base64url')
    : (der) => crypto.createHash('sha256').update(der).digest('base64url')

/**
 * Thumbprints of the DER buffers seen, by identity: `requestInput` hands out one buffer per TLS
 * connection, so keep-alive requests hash a certificate once. Weak: it lives as long as the
 * connection's buffer does.
 */
const thumbprints = new WeakMap<Uint8Array, string>()

/**
 * {@link certificateThumbprint}, memoised per buffer, which must therefore not be modified after
 * its first use (a connection's certificate never is).
 *
 * @example
 * connectionThumbprint(input.clientCertificate) // hashed on the connection's first request only
 */
export function connectionThumbprint(der: Uint8Array): string {
  let thumbprint = thumbprints.get(der)
  if (thumbprint === undefined) {
    thumbprint = certificateThumbprint(der)
    thumbprints.set(der, thumbprint)
  }
  return thumbprint
}

/**
 * True when `der` is exactly one DER SEQUENCE (an X.509 certificate is one): the tag, a definite
 * length in canonical form, and nothing after it. A cheap shape check for certificates that come
 * from a header, so that garbage is refused as such rather than hashed.
 *
 * @example
 * isDerSequence(new X509Certificate(pem).raw) // true
 */
export function isDerSequence(der: Uint8Array): boolean {
  if (der.length < 2 || der[0] !== 0x30) return false
  const first = der[1]!
  if (first < 0x80) return der.length === 2 + first
  const octets = first & 0x7f
  // 0x80 is BER's indefinite length; more than 4 length octets is no certificate
  if (octets === 0 || octets > 4 || der.length < 2 + octets || der[2] === 0) return false
  let length = 0
  for (let i = 0; i < octets; i++) length = length * 256 + der[2 + i]!
  // DER: the long form only for lengths the short form cannot say
  if (length < 0x80) return false
  return der.length === 2 + octets + length
}
