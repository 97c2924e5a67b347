/**
 * The HTTP URI a DPoP proof is for (`htu`, RFC 9449 section 4.3): the request's URI without query
 * and fragment, compared after RFC 3986 syntax- and scheme-based normalization (section 6.2.2 and
 * 6.2.3): scheme and host in lower case, the default port dropped, dot segments removed, an empty
 * path as `/`, percent-encodings in upper case and unreserved characters decoded.
 */
import type { RequestInput } from '../types.js'

const HEX = '0123456789ABCDEF'

function isUnreserved(c: number): boolean {
  return (
    (c >= 0x41 && c <= 0x5a) ||
    (c >= 0x61 && c <= 0x7a) ||
    (c >= 0x30 && c <= 0x39) ||
    c === 0x2d ||
    c === 0x2e ||
    c === 0x5f ||
    c === 0x7e
  )
}

/** Percent-encodings in upper case; those of unreserved characters decoded (RFC 3986 section 6.2.2). */
function normalizePercent(path: string): string {
  if (!path.includes('%')) return path
  return path.replace(/%([0-9a-fA-F]{2})/g, (_, hex: string) => {
    const c = Number.parseInt(hex, 16)
    return isUnreserved(c) ? String.fromCharCode(c) : `%${HEX[c >> 4]}${HEX[c & 15]}`
  })
}

/**
 * The normalized form of an absolute `http:` or `https:` URI, without query and fragment; `undefined`
 * for anything else (a relative reference, another scheme, user information).
 *
 * @example
 * normalizeHtu('HTTPS://API.example:443/a/%7euser/../orders?page=2') // 'https://api.example/a/orders'
 */
export function normalizeHtu(value: string): string | undefined {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    return undefined
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return undefined
  if (url.username !== '' || url.password !== '') return undefined
  // percent-decoding an unreserved character may form a dot segment: resolved by parsing once more
  const path = normalizePercent(url.pathname)
  const origin = `${url.protocol}//${url.host}`
  if (path === url.pathname) return origin + path
  return normalizeHtu(origin + path)
}

/** How the external URL of a request is found (the `dpop.origin` and `dpop.url` options). */
export interface RequestUriSource<Req> {
  /** The external origin (`https://api.example`), fixed by configuration. */
  readonly origin: string | undefined
  /** The external URL of a request, from the application (e.g. trusted forwarded headers). */
  readonly url: ((request: Req) => string) | undefined
}

/**
 * The normalized URI of the request the proof must name: `dpop.url(request)` when configured; else
 * the configured `dpop.origin`, or the request's own origin (the connection's scheme and the
 * `Host` header), followed by the request target's path. `undefined` when it cannot be known.
 *
 * @example
 * requestHtu(input, { origin: 'https://api.example', url: undefined }) // 'https://api.example/orders'
 */
export function requestHtu<Req>(
  input: RequestInput,
  source: RequestUriSource<Req>,
): string | undefined {
  if (source.url !== undefined) {
    const url = source.url(input.request as Req)
    return typeof url === 'string' ? normalizeHtu(url) : undefined
  }
  const origin = source.origin ?? input.origin
  const target = input.url
  // only the origin form of a request target (`/path?query`) names a path on this origin
  if (origin === undefined || target === undefined || target.charCodeAt(0) !== 0x2f)
    return undefined
  if (target.charCodeAt(1) === 0x2f) return undefined // `//host/path` would read as an authority
  return normalizeHtu(origin + target)
}
