import { TokenInvalidError } from '../errors.js'
import { isCanonicalBase64url } from './base64url.js'

/** Where the two dots of a compact JWS are. */
export interface CompactParts {
  readonly token: string
  readonly dot1: number
  readonly dot2: number
}

/**
 * The strict compact-form check, run before anything is decoded (RFC 7515 section 7.1 and
 * RFC 7519 section 7.2): exactly three non-empty segments of canonical unpadded base64url. It
 * rejects whitespace, padding, `?` and other stray characters, and non-zero unused bits in a
 * segment's last character, all of which a lenient decoder would let through.
 *
 * @example
 * const { dot1, dot2 } = parseCompact(token) // throws TokenInvalidError
 */
export function parseCompact(token: string): CompactParts {
  const dot1 = token.indexOf('.')
  const dot2 = dot1 === -1 ? -1 : token.indexOf('.', dot1 + 1)
  if (dot2 === -1 || token.indexOf('.', dot2 + 1) !== -1) {
    throw new TokenInvalidError('The token is not a compact JWS of three segments.')
  }
  if (dot1 === 0 || dot2 === dot1 + 1 || dot2 === token.length - 1) {
    throw new TokenInvalidError('A segment of the token is empty.')
  }
  if (
    !isCanonicalBase64url(token, 0, dot1) ||
    !isCanonicalBase64url(token, dot1 + 1, dot2) ||
    !isCanonicalBase64url(token, dot2 + 1, token.length)
  ) {
    throw new TokenInvalidError('The token is not canonical base64url.')
  }
  return { token, dot1, dot2 }
}
