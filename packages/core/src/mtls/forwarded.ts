/**
 * The client certificate as a TLS-terminating proxy forwards it in a request header. Only read
 * when the `mtls.certificateHeader` option names the header: a client can send any header, so the
 * proxy must set it on every request and drop the one the client sent.
 */
import { TokenInvalidError } from '../errors.js'
import { isStandardBase64 } from '../token/base64url.js'
import { isDerSequence } from './thumbprint.js'

/**
 * How the proxy encodes the certificate:
 * - `rfc9440`: RFC 9440 `Client-Cert`, a structured-field byte sequence `:<base64 DER>:`.
 * - `pem`: URL-encoded PEM, as nginx's `$ssl_client_escaped_cert` and AWS ALB's
 *   `X-Amzn-Mtls-Clientcert-Leaf`; also plain PEM with its line breaks turned into spaces.
 * - `base64`: the base64 of the DER alone, as HAProxy's `%[ssl_c_der,base64]`, or URL-encoded as
 *   Traefik's `X-Forwarded-Tls-Client-Cert`.
 */
export type CertificateHeaderFormat = 'rfc9440' | 'pem' | 'base64'

export const CERTIFICATE_HEADER_FORMATS: readonly CertificateHeaderFormat[] = Object.freeze([
  'rfc9440',
  'pem',
  'base64',
])

const BEGIN = '-----BEGIN CERTIFICATE-----'
const END = '-----END CERTIFICATE-----'

function malformed(what: string): never {
  throw new TokenInvalidError(`The forwarded client certificate is not ${what}.`)
}

/** The DER of a base64 certificate, checked to be one DER SEQUENCE. */
function der(base64: string, format: string): Uint8Array {
  if (!isStandardBase64(base64, 'optional')) malformed(`${format} base64`)
  const bytes = Buffer.from(base64, 'base64')
  if (!isDerSequence(bytes)) malformed('a DER-encoded certificate')
  return bytes
}

/** `text` with its %XX escapes decoded; text without any comes back as is. */
function unescaped(text: string, format: string): string {
  try {
    return decodeURIComponent(text)
  } catch {
    return malformed(`URL-encoded ${format}`)
  }
}

/** PEM blocks, whitespace between and inside them; the first is the client's own certificate. */
function fromPem(escaped: string): Uint8Array {
  const text = unescaped(escaped, 'PEM').trim()
  if (!text.startsWith(BEGIN)) malformed('PEM')
  let first: Uint8Array | undefined
  let at = 0
  // every block is checked: a chain with a damaged certificate is not a chain the proxy sent
  while (at < text.length) {
    if (!text.startsWith(BEGIN, at)) malformed('PEM')
    const end = text.indexOf(END, at + BEGIN.length)
    if (end === -1) malformed('PEM')
    const body = text.slice(at + BEGIN.length, end).replace(/[ \t\r\n]+/g, '')
    const cert = der(body, 'PEM')
    first ??= cert
    at = end + END.length
    while (at < text.length && ' \t\r\n'.includes(text[at]!)) at++
  }
  return first!
}

/**
 * The DER of the certificate a proxy forwarded in `value`. `value` longer than `maxBytes`, not in
 * `format`, or not one certificate is 401 `token_invalid`, checked before anything is decoded. A
 * repeated header (joined with commas, or an array) is refused rather than picked from: the proxy
 * sets exactly one, and a second is the client's.
 *
 * @example
 * forwardedCertificate(':MIIBszCCAVmgAwIBAgI...:', 'rfc9440', 8192) // the DER bytes
 */
export function forwardedCertificate(
  value: string | readonly string[],
  format: CertificateHeaderFormat,
  maxBytes: number,
): Uint8Array {
  if (value.length > maxBytes) {
    throw new TokenInvalidError(
      `The forwarded client certificate is longer than ${maxBytes} bytes.`,
    )
  }
  // no format has a comma: one is a repeated header (Node and Fetch join them with ", ")
  if (typeof value !== 'string' || value.includes(',')) malformed('one header value')
  const text = value.trim()
  if (format === 'pem') return fromPem(text)
  if (format === 'base64') return der(unescaped(text, 'base64'), 'base64')
  if (text.length < 2 || text[0] !== ':' || text[text.length - 1] !== ':') {
    malformed('an RFC 9440 byte sequence')
  }
  return der(text.slice(1, -1), 'RFC 9440')
}
