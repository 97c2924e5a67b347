import { CredentialsInvalidError, InvalidRequestError } from '../errors.js'
import { isStandardBase64 } from '../token/base64url.js'

/** Decoded `Basic` credentials (RFC 7617). */
export interface BasicCredentials {
  readonly username: string
  readonly password: string
}

const decoder = new TextDecoder('utf-8', { fatal: true })

function hasControl(bytes: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const b = bytes[i]!
    if (b < 0x20 || b === 0x7f) return true
  }
  return false
}

/**
 * Decodes the token68 of a `Basic` header: padded standard base64 of `user-id ":" password`,
 * UTF-8, no control characters (RFC 7617 section 2). The decoded bytes are the only copy made.
 * Credentials longer than `maxBytes` are refused (401 `credentials_invalid`) before they are
 * decoded, like an oversized bearer token: no verifier ever sees them. Anything malformed is a 400
 * `invalid_request`; the message never repeats the credentials.
 *
 * @example
 * parseBasic('dXNlcjpwYXNz') // { username: 'user', password: 'pass' }
 */
export function parseBasic(token68: string, maxBytes = 8192): BasicCredentials {
  if (token68.length > maxBytes) {
    throw new CredentialsInvalidError(`The Basic credentials are longer than ${maxBytes} bytes.`)
  }
  if (!isStandardBase64(token68)) throw new InvalidRequestError('Malformed Basic credentials.')
  const bytes = Buffer.from(token68, 'base64')
  const colon = bytes.indexOf(0x3a)
  if (colon <= 0 || hasControl(bytes, 0, bytes.length)) {
    throw new InvalidRequestError('Malformed Basic credentials.')
  }
  try {
    return {
      username: decoder.decode(bytes.subarray(0, colon)),
      password: decoder.decode(bytes.subarray(colon + 1)),
    }
  } catch {
    throw new InvalidRequestError('Malformed Basic credentials.')
  } finally {
    bytes.fill(0)
  }
}
