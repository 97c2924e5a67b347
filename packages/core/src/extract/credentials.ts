import { InvalidRequestError } from '../errors.js'
import type { RequestInput } from '../types.js'
import { parseAuthorization } from './authorization.js'
import { type BasicCredentials, parseBasic } from './basic.js'
import { readCookie } from './cookie.js'

/** Where credentials may come from, resolved from the options. */
export interface CredentialSources<Req> {
  readonly cookie: string | undefined
  readonly getToken: ((request: Req) => string | null | undefined) | undefined
  /** Basic credentials are read only when something verifies them. */
  readonly basic?: unknown
  /** The session cookie, when sessions are configured. */
  readonly sessions?: { readonly cookieName: string } | undefined
  /** Longest credential: Basic credentials over it are refused before they are decoded. */
  readonly maxTokenBytes: number
}

/** A session cookie's value. */
export interface SessionCredential {
  readonly sessionId: string
}

/** A token from a cookie or a custom getter (a header token is a plain string). */
export interface OtherToken {
  readonly token: string
}

/**
 * The one credential of a request: an `Authorization: Bearer` token (a string: the hot path
 * allocates nothing), a token from a cookie or getter, Basic credentials or a session id.
 */
export type Credential = string | OtherToken | BasicCredentials | SessionCredential

function single(values: readonly string[] | string | undefined, what: string): string | undefined {
  if (values === undefined || typeof values === 'string') return values
  if (values.length > 1)
    throw new InvalidRequestError(`The ${what} header was sent more than once.`)
  return values[0]
}

/**
 * Finds the one credential of a request: a Bearer token in `Authorization` (or `Basic`
 * credentials, where configured), a configured cookie, or a custom getter. Credentials in more
 * than one place, or a repeated `Authorization` header, are a 400 `invalid_request`. Returns the
 * credential (see `Credential`), or `undefined` when there are none.
 */
export function extractCredential<Req>(
  input: RequestInput,
  sources: CredentialSources<Req>,
): Credential | undefined {
  let token: string | undefined
  let other: OtherToken | undefined
  let basic: BasicCredentials | undefined
  const header = single(input.authorization, 'Authorization')
  if (header !== undefined && header !== '') {
    const parsed = parseAuthorization(header)
    if (parsed.scheme === 'bearer') token = parsed.token
    else if (parsed.scheme === 'basic' && sources.basic !== undefined) {
      basic = parseBasic(parsed.credentials, sources.maxTokenBytes)
    }
  }
  if (sources.cookie !== undefined && input.cookie !== undefined) {
    const cookieHeader = typeof input.cookie === 'string' ? input.cookie : input.cookie.join('; ')
    const fromCookie = readCookie(cookieHeader, sources.cookie)
    if (fromCookie !== undefined) {
      if (token !== undefined || basic !== undefined || other !== undefined)
        throw new InvalidRequestError('Credentials were sent in more than one place.')
      other = { token: fromCookie }
    }
  }
  if (sources.getToken !== undefined) {
    const custom = sources.getToken(input.request as Req)
    if (custom !== undefined && custom !== null && custom !== '') {
      if (typeof custom !== 'string')
        throw new TypeError('getToken must return a string or undefined')
      if (token !== undefined || basic !== undefined || other !== undefined)
        throw new InvalidRequestError('Credentials were sent in more than one place.')
      other = { token: custom }
    }
  }
  if (sources.sessions !== undefined && input.cookie !== undefined) {
    const cookieHeader = typeof input.cookie === 'string' ? input.cookie : input.cookie.join('; ')
    const sessionId = readCookie(cookieHeader, sources.sessions.cookieName)
    if (sessionId !== undefined) {
      if (token !== undefined || basic !== undefined || other !== undefined) {
        throw new InvalidRequestError('Credentials were sent in more than one place.')
      }
      return { sessionId }
    }
  }
  return basic ?? other ?? token
}

/** The parts of a Node `IncomingMessage` (or a look-alike) that credentials are read from. */
export interface NodeRequestLike {
  readonly headers: {
    readonly authorization?: string | undefined
    readonly cookie?: string | undefined
  }
  readonly rawHeaders?: readonly string[]
  readonly socket?: { readonly remoteAddress?: string | undefined } | null
}

function isAuthorization(name: string): boolean {
  if (name.length !== 13) return false
  return (
    name === 'authorization' || name === 'Authorization' || name.toLowerCase() === 'authorization'
  )
}

/**
 * A Node request's credentials. The peer address is read only when asked for (a failure's
 * security log): on Express every property read of `req` costs an inline cache miss.
 */
class NodeRequestInput implements RequestInput {
  readonly authorization: string | string[] | undefined
  readonly cookie: string | undefined
  readonly request: unknown
  readonly #raw: NodeRequestLike

  constructor(
    raw: NodeRequestLike,
    authorization: string | string[] | undefined,
    cookie: string | undefined,
    request: unknown,
  ) {
    this.authorization = authorization
    this.cookie = cookie
    this.request = request
    this.#raw = raw
  }

  get clientAddress(): string | undefined {
    return this.#raw.socket?.remoteAddress
  }
}

/**
 * Reads the credential headers of a Node request for `authenticate`. Node keeps only the first of
 * repeated `Authorization` headers in `headers`, so `rawHeaders` is scanned to see repeats.
 * `headers` defaults to `raw.headers`; an adapter that has read them already passes them in.
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
  return new NodeRequestInput(raw, authorization, headers.cookie, request)
}
