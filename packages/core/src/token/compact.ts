import { TokenInvalidError } from '../errors.js'

/** A compact JWS that passed the strict check: where its dots are, and its three decoded segments. */
export interface CompactParts {
  readonly token: string
  readonly dot1: number
  readonly dot2: number
  readonly header: Buffer
  readonly payload: Buffer
  readonly signature: Buffer
}

/**
 * Decodes a segment and proves it canonical in one native round trip: Node's decoder skips stray
 * characters, stops at padding, accepts `+` and `/` and ignores unused bits, so any of those makes
 * the re-encoding differ from the input. (A JavaScript scan of every character costs more than
 * decoding and encoding again, and the bytes are needed anyway.)
 */
export function decodeCanonical(token: string, start: number, end: number): Buffer | undefined {
  const segment = token.slice(start, end)
  const bytes = Buffer.from(segment, 'base64url')
  return bytes.toString('base64url') === segment ? bytes : undefined
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
  const dot2 = compactDots(token, dot1)
  const header = decodeCanonical(token, 0, dot1)
  const payload = header && decodeCanonical(token, dot1 + 1, dot2)
  const signature = payload && decodeCanonical(token, dot2 + 1, token.length)
  if (signature === undefined) throw notCanonical()
  return { token, dot1, dot2, header: header!, payload: payload!, signature }
}

/**
 * The structural half of the compact check: exactly three non-empty segments. Takes the first
 * dot's index and returns the second's.
 */
export function compactDots(token: string, dot1: number): number {
  const dot2 = dot1 === -1 ? -1 : token.indexOf('.', dot1 + 1)
  if (dot2 === -1 || token.indexOf('.', dot2 + 1) !== -1) {
    throw new TokenInvalidError('The token is not a compact JWS of three segments.')
  }
  if (dot1 === 0 || dot2 === dot1 + 1 || dot2 === token.length - 1) {
    throw new TokenInvalidError('A segment of the token is empty.')
  }
  return dot2
}

/**
 * The JWS Signing Input of a compact JWS (`header.payload`, RFC 7515 section 5.2): what every valid
 * signature of the token covers. Revocation keys on its hash, so that no re-signature (an ECDSA
 * `(r, n − s)`, a fresh signature by the key holder) or re-encoding escapes a revoked token.
 */
export function signingInput(jwt: string): string {
  return jwt.slice(0, jwt.lastIndexOf('.'))
}

export function notCanonical(): TokenInvalidError {
  return new TokenInvalidError('The token is not canonical base64url.')
}
