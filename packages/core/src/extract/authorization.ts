import { InvalidRequestError } from '../errors.js'
import type { BearerCredential, DpopCredential } from '../handlers/handler.js'

/** `Authorization: Basic`, its token68 not decoded yet (only `basic` decodes it). */
export interface BasicHeader {
  readonly kind: 'basic-header'
  readonly token68: string
}

/** The result of reading one `Authorization` header: `undefined` for any other scheme. */
export type AuthorizationValue = BearerCredential | BasicHeader | DpopCredential | undefined

// RFC 6750 b64token: ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/", then any "=" padding.
const B64TOKEN = new Uint8Array(128)
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/') {
  B64TOKEN[c.charCodeAt(0)] = 1
}

/** True when `value[start..]` is a b64token (at least one character, `=` only at the end). */
function isB64token(value: string, start: number): boolean {
  let i = start
  while (i < value.length) {
    const c = value.charCodeAt(i)
    if (c >= 128 || B64TOKEN[c] !== 1) break
    i++
  }
  if (i === start) return false
  while (i < value.length && value.charCodeAt(i) === 0x3d) i++
  return i === value.length
}

/** Case-insensitive ASCII comparison of `value[0, word.length)` with a lower-case `word`. */
function schemeIs(value: string, end: number, word: string): boolean {
  if (end !== word.length) return false
  for (let i = 0; i < end; i++) {
    if ((value.charCodeAt(i) | 0x20) !== word.charCodeAt(i)) return false
  }
  return true
}

const COMPRESSED = 'compressed:'

/**
 * Parses an `Authorization` header value without regular expressions or splitting. The scheme is
 * case-insensitive; `Bearer` must be followed by one or more spaces and exactly one b64token
 * (or `compressed:` and a b64token): the bearer credential. `Basic` is returned for the caller to
 * accept or ignore; `DPoP` and one token68, with `dpop`, is a DPoP credential; any other scheme reads
 * as no credentials (`undefined`).
 *
 * @example
 * parseAuthorization('Bearer eyJhbGciOi...') // { kind: 'bearer', token: 'eyJhbGciOi...', source: 'header' }
 */
export function parseAuthorization(value: string, dpop = false): AuthorizationValue {
  // The scheme ends at the first SP or HTAB: `Bearer<TAB>token` is a malformed Bearer header
  // (RFC 7235 allows only SP there), not some other scheme.
  let end = 0
  while (end < value.length && value.charCodeAt(end) !== 0x20 && value.charCodeAt(end) !== 0x09)
    end++
  const bearer = schemeIs(value, end, 'bearer')
  const basic = !bearer && schemeIs(value, end, 'basic')
  const proof = !bearer && !basic && dpop && schemeIs(value, end, 'dpop')
  if (!bearer && !basic && !proof) return undefined
  if (end === value.length)
    throw new InvalidRequestError('The Authorization header has no credentials after the scheme.')
  if (value.charCodeAt(end) === 0x09) {
    throw new InvalidRequestError('The Authorization scheme must be followed by spaces, not a tab.')
  }
  let space = end
  while (space < value.length && value.charCodeAt(space) === 0x20) space++
  if (space === value.length) {
    throw new InvalidRequestError('The Authorization header has no credentials after the scheme.')
  }
  if (basic) {
    if (!isB64token(value, space)) throw new InvalidRequestError('Malformed Basic credentials.')
    return { kind: 'basic-header', token68: value.slice(space) }
  }
  if (proof) {
    if (!isB64token(value, space)) {
      const error = new InvalidRequestError('The DPoP credentials must be exactly one token68.')
      error.viaDpop = true
      throw error
    }
    return { kind: 'dpop', token: value.slice(space) }
  }
  // Only the structure is checked here (one token: no SP or HTAB after it). The token's alphabet
  // is checked by `isBearerToken` when the token is not in the verification cache: a cached token
  // is byte-for-byte one that passed that check, so a hit skips a scan of every character.
  if (value.indexOf(' ', space) !== -1 || value.indexOf('\t', space) !== -1) {
    throw new InvalidRequestError(NOT_ONE_TOKEN)
  }
  // the credential itself: the request's one allocation for it
  return { kind: 'bearer', token: value.slice(space), source: 'header' }
}

const NOT_ONE_TOKEN = 'The Bearer credentials must be exactly one token.'

/**
 * True when a bearer credential is one RFC 6750 b64token, optionally after the `compressed:`
 * prefix. Throws nothing; see `assertBearerToken`.
 */
export function isBearerToken(token: string): boolean {
  return isB64token(token, token.startsWith(COMPRESSED) ? COMPRESSED.length : 0)
}

/** Throws 400 `invalid_request` unless the credential is one b64token. */
export function assertBearerToken(token: string): void {
  if (!isBearerToken(token)) throw new InvalidRequestError(NOT_ONE_TOKEN)
}
