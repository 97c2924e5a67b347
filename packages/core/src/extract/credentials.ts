import { InvalidRequestError } from '../errors.js'
import type { BearerCredential, Credential } from '../handlers/handler.js'
import type { RequestInput } from '../types.js'
import { parseAuthorization } from './authorization.js'
import { parseBasic } from './basic.js'
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
  /** The `DPoP` scheme is read only when DPoP is configured. */
  readonly dpop?: unknown
}

function single(values: readonly string[] | string | undefined, what: string): string | undefined {
  if (values === undefined || typeof values === 'string') return values
  if (values.length > 1)
    throw new InvalidRequestError(`The ${what} header was sent more than once.`)
  return values[0]
}

function cookieHeader(input: RequestInput): string | undefined {
  const cookie = input.cookie
  return cookie === undefined || typeof cookie === 'string' ? cookie : cookie.join('; ')
}

const SEVERAL = 'Credentials were sent in more than one place.'

/**
 * Finds the one credential of a request and tags it with its kind: a Bearer token in
 * `Authorization` (or `Basic` credentials, where configured), a configured cookie, a custom
 * getter, or the session cookie. Credentials in more than one place, or a repeated `Authorization`
 * header, are a 400 `invalid_request`. Returns `undefined` when there are none.
 *
 * @example
 * extractCredential({ authorization: 'Bearer abc' }, sources) // { kind: 'bearer', token: 'abc', source: 'header' }
 */
export function extractCredential<Req>(
  input: RequestInput,
  sources: CredentialSources<Req>,
): Credential | undefined {
  let found: Credential | undefined
  const header = single(input.authorization, 'Authorization')
  if (header !== undefined && header !== '') {
    const parsed = parseAuthorization(header, sources.dpop !== undefined)
    if (parsed?.kind === 'bearer' || parsed?.kind === 'dpop') found = parsed
    else if (parsed?.kind === 'basic-header' && sources.basic !== undefined) {
      found = { kind: 'basic', credentials: parseBasic(parsed.token68, sources.maxTokenBytes) }
    }
  }
  if (sources.cookie !== undefined && input.cookie !== undefined) {
    const token = readCookie(cookieHeader(input)!, sources.cookie)
    if (token !== undefined) {
      if (found !== undefined) throw new InvalidRequestError(SEVERAL)
      found = bearer(token, 'cookie')
    }
  }
  if (sources.getToken !== undefined) {
    const custom = sources.getToken(input.request as Req)
    if (custom !== undefined && custom !== null && custom !== '') {
      if (typeof custom !== 'string')
        throw new TypeError('getToken must return a string or undefined')
      if (found !== undefined) throw new InvalidRequestError(SEVERAL)
      found = bearer(custom, 'getter')
    }
  }
  if (sources.sessions !== undefined && input.cookie !== undefined) {
    const sessionId = readCookie(cookieHeader(input)!, sources.sessions.cookieName)
    if (sessionId !== undefined) {
      if (found !== undefined) throw new InvalidRequestError(SEVERAL)
      return { kind: 'session', sessionId }
    }
  }
  return found
}

/** A bearer credential; every source builds the same shape, so handlers see one hidden class. */
export function bearer(token: string, source: BearerCredential['source']): BearerCredential {
  return { kind: 'bearer', token, source }
}
