/** Value of each base64url character (RFC 4648 section 5), or 255 for anything else. */
const VALUE = new Uint8Array(128).fill(255)
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
for (let i = 0; i < ALPHABET.length; i++) VALUE[ALPHABET.charCodeAt(i)] = i

/**
 * True when `input[start, end)` is canonical unpadded base64url: only the 64 alphabet characters,
 * a length that is not 1 modulo 4, and zero unused bits in the last character, so that exactly one
 * string encodes each byte sequence. An empty range is canonical (it encodes no bytes).
 */
export function isCanonicalBase64url(input: string, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const c = input.charCodeAt(i)
    if (c >= 128 || VALUE[c] === 255) return false
  }
  const rem = (end - start) % 4
  if (rem === 0) return true
  if (rem === 1) return false
  const last = VALUE[input.charCodeAt(end - 1)]!
  return rem === 2 ? (last & 0x0f) === 0 : (last & 0x03) === 0
}

/** True for a character of the standard base64 alphabet (RFC 4648 section 4), `=` excluded. */
function isBase64Character(c: number): boolean {
  return (
    (c >= 0x41 && c <= 0x5a) ||
    (c >= 0x61 && c <= 0x7a) ||
    (c >= 0x30 && c <= 0x39) ||
    c === 0x2b ||
    c === 0x2f
  )
}

/**
 * True for standard base64 (RFC 4648 section 4): at least one alphabet character, then at most two
 * `=` making the length a multiple of 4. With `padding: 'optional'`, also the same without its `=`
 * (a length that is not 1 modulo 4), as RFC 8941 byte sequences may come.
 *
 * @example
 * isStandardBase64('dXNlcjpwdw==') // true
 * isStandardBase64('dXNlcjpwdw', 'optional') // true
 */
export function isStandardBase64(
  value: string,
  padding: 'required' | 'optional' = 'required',
): boolean {
  let i = 0
  while (i < value.length && isBase64Character(value.charCodeAt(i))) i++
  const pad = value.length - i
  if (i === 0 || pad > 2) return false
  for (; i < value.length; i++) if (value.charCodeAt(i) !== 0x3d) return false
  if (pad > 0 || padding === 'required') return value.length % 4 === 0
  return value.length % 4 !== 1
}
