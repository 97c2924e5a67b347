import { inflateRawSync } from 'node:zlib'
import { TokenInvalidError } from '../errors.js'
import { isCanonicalBase64url } from './base64url.js'

/** The exact prefix of a compressed token. */
export const COMPRESSED_PREFIX = 'compressed:'

/**
 * Decodes `compressed:` + base64url(raw DEFLATE (RFC 1951) of a compact JWT). Inflation stops as
 * soon as the output would pass `maxBytes`, so a bomb costs microseconds, not memory. Trailing
 * bytes after the DEFLATE stream and truncated streams are rejected. The result is returned as is:
 * the caller puts it through the strict compact check, which also refuses a nested `compressed:`.
 *
 * @example
 * const jwt = decodeCompressed('compressed:q1YqLU4tUrJSS...', 16_384)
 */
export function decodeCompressed(value: string, maxBytes: number): string {
  const start = COMPRESSED_PREFIX.length
  if (value.length === start || !isCanonicalBase64url(value, start, value.length)) {
    throw new TokenInvalidError('The compressed token is not canonical base64url.')
  }
  const deflated = Buffer.from(value.slice(start), 'base64url')
  let inflated: { buffer: Buffer; engine: { bytesWritten: number } }
  try {
    inflated = inflateRawSync(deflated, { maxOutputLength: maxBytes, info: true }) as unknown as {
      buffer: Buffer
      engine: { bytesWritten: number }
    }
  } catch (cause) {
    throw new TokenInvalidError(
      (cause as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE'
        ? `The compressed token inflates beyond ${maxBytes} bytes.`
        : 'The compressed token is not a valid DEFLATE stream.',
    )
  }
  if (inflated.engine.bytesWritten !== deflated.length) {
    throw new TokenInvalidError('The compressed token has bytes after the DEFLATE stream.')
  }
  return inflated.buffer.toString('latin1')
}
