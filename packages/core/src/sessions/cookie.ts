/** The `Set-Cookie` value of a session: `HttpOnly`, `Secure` and `SameSite=Lax` unless told otherwise. */

export interface SessionCookieOptions {
  /** Cookie name; the same as `sessions.cookieName` in `createAuth`. Default `'sid'`. */
  readonly name?: string
  /**
   * Send the cookie over HTTPS only. Default true. Set false only for `http://localhost` during
   * development (a warning is emitted once).
   */
  readonly secure?: boolean
  /** Default `'Lax'`: sent on top-level navigations from other sites, not on their subrequests. */
  readonly sameSite?: 'Lax' | 'Strict'
  /** Default `'/'`. */
  readonly path?: string
  /** Default: none (the cookie goes to the exact host only). */
  readonly domain?: string
  /** Milliseconds since the epoch, to compute `Max-Age`. Default `Date.now`. */
  readonly clock?: () => number
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/
const ATTRIBUTE_VALUE = /^[\x21-\x3A\x3C-\x7E]+$/ // visible ASCII except ';'
let warnedInsecure = false

function attributes(options: SessionCookieOptions, maxAge: number): string {
  const name = options.name ?? 'sid'
  if (!TOKEN.test(name)) throw new TypeError('sessionCookie: name must be a cookie name, e.g. sid.')
  const path = options.path ?? '/'
  if (!path.startsWith('/') || !ATTRIBUTE_VALUE.test(path)) {
    throw new TypeError(
      "sessionCookie: path must start with '/' and hold no ';', space or control character.",
    )
  }
  if (options.domain !== undefined && !/^[A-Za-z0-9.-]+$/.test(options.domain)) {
    throw new TypeError('sessionCookie: domain must be a host name, e.g. example.com.')
  }
  const sameSite = options.sameSite ?? 'Lax'
  if (sameSite !== 'Lax' && sameSite !== 'Strict') {
    throw new TypeError("sessionCookie: sameSite must be 'Lax' or 'Strict'.")
  }
  const secure = options.secure ?? true
  if (!secure && !warnedInsecure) {
    warnedInsecure = true
    process.emitWarning(
      'sessionCookie: secure: false sends the session cookie over plain HTTP; use it only for http://localhost.',
      { code: 'AUTHFRAMEWORK_INSECURE_COOKIE' },
    )
  }
  return (
    `; Path=${path}` +
    (options.domain === undefined ? '' : `; Domain=${options.domain}`) +
    `; Max-Age=${maxAge}; HttpOnly` +
    (secure ? '; Secure' : '') +
    `; SameSite=${sameSite}`
  )
}

/**
 * The `Set-Cookie` header value that hands a session to the browser, living until the session
 * expires.
 *
 * @example
 * const session = await sessions.create(user.id)
 * res.setHeader('Set-Cookie', serializeSessionCookie(session))
 * // sid=...; Path=/; Max-Age=86400; HttpOnly; Secure; SameSite=Lax
 */
export function serializeSessionCookie(
  session: { readonly id: string; readonly expiresAt: number },
  options: SessionCookieOptions = {},
): string {
  if (typeof session?.id !== 'string' || !/^[A-Za-z0-9_-]+$/.test(session.id)) {
    throw new TypeError('serializeSessionCookie: session.id must be a session id.')
  }
  const now = (options.clock ?? Date.now)()
  const maxAge = Math.max(0, Math.floor((session.expiresAt - now) / 1000))
  return `${options.name ?? 'sid'}=${session.id}${attributes(options, maxAge)}`
}

/**
 * The `Set-Cookie` header value that removes the session cookie (after `destroy`).
 *
 * @example
 * await sessions.destroy(id)
 * res.setHeader('Set-Cookie', clearSessionCookie())
 */
export function clearSessionCookie(options: SessionCookieOptions = {}): string {
  return `${options.name ?? 'sid'}=${attributes(options, 0)}`
}
