import { InvalidRequestError } from '../errors.js'

/**
 * Reads one cookie from a `Cookie` header (RFC 6265 section 5.4) without splitting the header
 * into arrays. A cookie sent twice is ambiguous and answered with 400 `invalid_request`.
 *
 * @example
 * readCookie('theme=dark; access_token=eyJ...', 'access_token') // 'eyJ...'
 */
export function readCookie(header: string, name: string): string | undefined {
  let found: string | undefined
  let pos = 0
  while (pos < header.length) {
    while (header.charCodeAt(pos) === 0x20 || header.charCodeAt(pos) === 0x09) pos++
    let semi = header.indexOf(';', pos)
    if (semi === -1) semi = header.length
    const eq = header.indexOf('=', pos)
    if (eq !== -1 && eq < semi && eq - pos === name.length && header.startsWith(name, pos)) {
      if (found !== undefined)
        throw new InvalidRequestError(`The "${name}" cookie was sent more than once.`)
      let value = header.slice(eq + 1, semi).trim()
      if (
        value.length >= 2 &&
        value.charCodeAt(0) === 0x22 &&
        value.charCodeAt(value.length - 1) === 0x22
      ) {
        value = value.slice(1, -1)
      }
      found = value
    }
    pos = semi + 1
  }
  return found === '' ? undefined : found
}
