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
