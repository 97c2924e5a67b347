/**
 * The request input every adapter builds, through one helper: the credential headers at once,
 * and the rest (method, URL, path, peer address) only when a handler or a log line asks.
 */
import type { RequestInput } from './types.js'

/** The parts of a request's `net.Socket` or `tls.TLSSocket` that the core reads. */
export interface NodeSocketLike {
  readonly remoteAddress?: string | undefined
  /** True on a `tls.TLSSocket`. */
  readonly encrypted?: boolean | undefined
  /** `tls.TLSSocket#getPeerCertificate`: `{}` (no `raw`) when the client presented none. */
  getPeerCertificate?(detailed?: boolean): { readonly raw?: Uint8Array | undefined } | null
}

/** The parts of a Node `IncomingMessage` (or a look-alike) that the core reads. */
export interface NodeRequestLike {
  readonly headers: {
    readonly authorization?: string | undefined
    readonly cookie?: string | undefined
    readonly host?: string | undefined
  }
  readonly rawHeaders?: readonly string[]
  readonly socket?: NodeSocketLike | null
  /** The origin, where the request knows it itself (a Fetch API request's absolute URL). */
  readonly origin?: string | undefined
  readonly method?: string | undefined
  readonly url?: string | undefined
  /** Express keeps the request target here when a router rewrites `url`. */
  readonly originalUrl?: string | undefined
}

/**
 * The path of a request target: everything before the query.
 *
 * @example
 * urlPath('/orders?page=2') // '/orders'
 */
export function urlPath(url: string): string {
  const q = url.indexOf('?')
  return q === -1 ? url : url.slice(0, q)
}

/** What {@link fetchRequestLike} reads of a Fetch API `Request`. */
export interface FetchRequestHead {
  readonly headers: Iterable<[name: string, value: string]>
  readonly method: string
  /** Absolute, as the Fetch API keeps it. */
  readonly url: string
}

/**
 * A Fetch API `Request` (Hono outside Node, Bun, Deno, edge runtimes) seen as a Node request:
 * lower-cased headers, the method, and the target (path and query, read when asked). Fetch's
 * `Headers` join repeated headers into one value, so two `Authorization` headers arrive as one
 * comma-joined value: still refused (400), with another description than on Node.
 *
 * @example
 * const ctx = await auth.authenticate(requestInput(fetchRequestLike(request), request))
 */
export function fetchRequestLike(request: FetchRequestHead): NodeRequestLike {
  return {
    headers: Object.fromEntries(request.headers),
    method: request.method,
    get origin() {
      return new URL(request.url).origin
    },
    get url() {
      const url = new URL(request.url)
      return url.pathname + url.search
    },
  }
}

function isAuthorization(name: string): boolean {
  if (name.length !== 13) return false
  return (
    name === 'authorization' || name === 'Authorization' || name.toLowerCase() === 'authorization'
  )
}

/**
 * A Node request's input. Only the credential headers are read up front; every other member is a
 * getter over the request, because a property read of a framework's request object is not free
 * (Express requests change hidden class on every request) and most requests never need them.
 */
class NodeRequestInput implements RequestInput {
  readonly authorization: string | string[] | undefined
  readonly cookie: string | undefined
  readonly request: unknown
  readonly #raw: NodeRequestLike
  readonly #headers: NodeRequestLike['headers']

  constructor(
    raw: NodeRequestLike,
    authorization: string | string[] | undefined,
    headers: NodeRequestLike['headers'],
    request: unknown,
  ) {
    this.authorization = authorization
    this.cookie = headers.cookie
    this.request = request
    this.#raw = raw
    this.#headers = headers
  }

  get clientAddress(): string | undefined {
    return this.#raw.socket?.remoteAddress
  }

  get method(): string | undefined {
    return this.#raw.method
  }

  get url(): string | undefined {
    return this.#raw.originalUrl ?? this.#raw.url
  }

  get origin(): string | undefined {
    const own = this.#raw.origin
    if (own !== undefined) return own
    const host = this.#headers.host
    if (typeof host !== 'string' || host === '') return undefined
    return `${this.#raw.socket?.encrypted === true ? 'https' : 'http'}://${host}`
  }

  get path(): string | undefined {
    const url = this.url
    return url === undefined ? undefined : urlPath(url)
  }

  get headers(): Readonly<Record<string, string | string[] | undefined>> {
    return this.#headers as Readonly<Record<string, string | string[] | undefined>>
  }

  get clientCertificate(): Uint8Array | undefined {
    const socket = this.#raw.socket
    return socket?.encrypted === true ? peerCertificate(socket) : undefined
  }
}

/**
 * The DER certificate of each TLS connection, read once: `getPeerCertificate` builds a new object
 * (and buffer) per call, and one buffer per connection lets its thumbprint be memoised. Weak: it
 * goes with the socket. A certificate is only kept once the client has presented one; TLS 1.3
 * cannot change it afterwards, and a TLS 1.2 renegotiation (which Node limits) is not looked at:
 * the first certificate was proved on this same connection.
 */
const peerCertificates = new WeakMap<object, Uint8Array>()

function peerCertificate(socket: NodeSocketLike): Uint8Array | undefined {
  let der = peerCertificates.get(socket)
  if (der === undefined) {
    der = socket.getPeerCertificate?.(false)?.raw
    if (der === undefined || der.length === 0) return undefined
    peerCertificates.set(socket, der)
  }
  return der
}

/**
 * Builds the core's input from a Node request. Node keeps only the first of repeated
 * `Authorization` headers in `headers`, so `rawHeaders` is scanned to see repeats. `headers`
 * defaults to `raw.headers`; an adapter that has read them already passes them in.
 *
 * @example
 * const ctx = await auth.authenticate(requestInput(req, req))
 */
export function requestInput(
  raw: NodeRequestLike,
  request?: unknown,
  headers: NodeRequestLike['headers'] = raw.headers,
): RequestInput {
  const first = headers.authorization
  let authorization: string | string[] | undefined = first
  if (first !== undefined) {
    const rawHeaders = raw.rawHeaders
    if (rawHeaders !== undefined) {
      let count = 0
      for (let i = 0; i < rawHeaders.length; i += 2) {
        if (isAuthorization(rawHeaders[i]!)) count++
      }
      if (count > 1) {
        authorization = []
        for (let i = 0; i < rawHeaders.length; i += 2) {
          if (isAuthorization(rawHeaders[i]!)) authorization.push(rawHeaders[i + 1]!)
        }
      }
    }
  }
  return new NodeRequestInput(raw, authorization, headers, request)
}
