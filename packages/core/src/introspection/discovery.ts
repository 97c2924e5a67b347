/**
 * Authorization server metadata: OpenID Connect Discovery 1.0 (`/.well-known/openid-configuration`)
 * and RFC 8414 (`/.well-known/oauth-authorization-server`), fetched with the hardening of the
 * remote key set (a deadline, no redirects, a bounded body) and checked against the issuer.
 */

import { readLimited } from '../read-limited.js'
import { deepFreeze } from '../util.js'
import { invalid, positiveNumber } from '../validate.js'
import type { IntrospectorOptions } from './introspector-options.js'

/** Which metadata documents to try, in order. */
export type WellKnown = 'openid-configuration' | 'oauth-authorization-server'

/** Options of {@link discover}. */
export interface DiscoveryOptions {
  /** Deadline of each fetch. Default 5000. */
  readonly timeoutMs?: number
  /** Largest metadata document accepted. Default 131 072. */
  readonly maxBytes?: number
  /** Documents tried in order; the next is tried when one answers other than 200. Default both, OpenID first. */
  readonly wellKnown?: readonly WellKnown[]
  /** Allow `http:` for a non-loopback issuer and endpoints (not recommended). Default false. */
  readonly allowHttp?: boolean
  /** A `fetch` to use instead of the global one (tests, proxies). */
  readonly fetch?: typeof fetch
}

/** What {@link discover} found. */
export interface DiscoveredIssuer {
  /** The issuer, equal to the one asked for (the metadata must say so). */
  readonly issuer: string
  /** `jwks_uri`, when published. */
  readonly jwksUri: string | undefined
  /** `introspection_endpoint`, when published. */
  readonly introspectionEndpoint: string | undefined
  /** The whole metadata document, deeply frozen. */
  readonly metadata: Readonly<Record<string, unknown>>
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]'])

function checkUrl(value: string, what: string, allowHttp: boolean): URL {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new Error(`discover: ${what} is not a valid URL`)
  }
  const insecure = url.protocol === 'http:' && !LOOPBACK.has(url.hostname) && !allowHttp
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || insecure) {
    throw new Error(`discover: ${what} must be an https: URL`)
  }
  return url
}

/** The metadata URLs of an issuer, in the order given. */
export function metadataUrls(issuer: URL, wellKnown: readonly WellKnown[]): string[] {
  const path = issuer.pathname === '/' ? '' : issuer.pathname.replace(/\/$/, '')
  return wellKnown.map((name) =>
    name === 'openid-configuration'
      ? // OpenID Connect Discovery 4.1: appended to the issuer, its terminating "/" removed
        `${issuer.origin}${path}/.well-known/openid-configuration`
      : // RFC 8414 section 3.1: inserted between the host and the issuer's path
        `${issuer.origin}/.well-known/oauth-authorization-server${path}`,
  )
}

/**
 * Fetches an issuer's metadata and returns its JWKS URI and introspection endpoint. The
 * document's `issuer` must equal `issuer` exactly (OpenID Connect Discovery 4.3, RFC 8414
 * section 3.3), so that one server cannot pass off another's keys; the endpoints must be `https:`
 * (or loopback). Redirects are refused, each fetch has a deadline and the body a size bound.
 * Meant for start-up: it rejects with an `Error` naming what went wrong.
 *
 * @example
 * const { jwksUri, introspectionEndpoint } = await discover('https://as.example')
 */
export async function discover(
  issuer: string,
  options: DiscoveryOptions = {},
): Promise<DiscoveredIssuer> {
  if (typeof issuer !== 'string' || issuer === '') {
    invalid('discover', 'issuer', 'the issuer URL', "'https://as.example'")
  }
  const allowHttp = options.allowHttp === true
  let issuerUrl: URL
  try {
    issuerUrl = checkUrl(issuer, 'issuer', allowHttp)
  } catch (error) {
    throw new TypeError((error as Error).message)
  }
  if (issuerUrl.search !== '' || issuerUrl.hash !== '' || issuer.includes('?')) {
    invalid('discover', 'issuer', 'a URL with no query or fragment', "'https://as.example'")
  }
  const timeoutMs = positiveNumber(options.timeoutMs ?? 5_000, 'timeoutMs', 5000, 'discover')
  const maxBytes = positiveNumber(options.maxBytes ?? 131_072, 'maxBytes', 131072, 'discover')
  const wellKnown = options.wellKnown ?? ['openid-configuration', 'oauth-authorization-server']
  if (!Array.isArray(wellKnown) || wellKnown.length === 0) {
    invalid('discover', 'wellKnown', 'a non-empty array', "['openid-configuration']")
  }
  const doFetch = options.fetch ?? fetch

  const statuses: string[] = []
  for (const url of metadataUrls(issuerUrl, wellKnown)) {
    let response: Response
    try {
      response = await doFetch(url, {
        redirect: 'error',
        signal: AbortSignal.timeout(timeoutMs),
        headers: { accept: 'application/json' },
      })
    } catch (cause) {
      throw new Error(`discover: ${url} could not be fetched`, { cause })
    }
    if (response.status !== 200) {
      await response.body?.cancel()
      statuses.push(`${url} answered ${response.status}`)
      continue
    }
    let metadata: unknown
    try {
      metadata = JSON.parse(await readLimited(response, maxBytes, 'metadata'))
    } catch (cause) {
      throw new Error(`discover: ${url} did not answer a usable JSON document`, { cause })
    }
    if (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata)) {
      throw new Error(`discover: ${url} did not answer a JSON object`)
    }
    const doc = metadata as Record<string, unknown>
    if (doc.issuer !== issuer) {
      throw new Error(
        `discover: ${url} names the issuer ${JSON.stringify(doc.issuer)}, not ${JSON.stringify(issuer)}`,
      )
    }
    const endpoint = (name: string): string | undefined => {
      const value = doc[name]
      if (value === undefined) return undefined
      if (typeof value !== 'string') throw new Error(`discover: ${name} is not a string`)
      return checkUrl(value, name, allowHttp).href
    }
    return Object.freeze({
      issuer,
      jwksUri: endpoint('jwks_uri'),
      introspectionEndpoint: endpoint('introspection_endpoint'),
      metadata: deepFreeze(doc),
    })
  }
  throw new Error(`discover: no metadata found (${statuses.join('; ')})`)
}

/** What {@link discoverAuthOptions} returns: to spread into `createAuth` options. */
export interface DiscoveredAuthOptions {
  readonly issuer: string
  readonly jwksUri?: string
  readonly introspection?: IntrospectorOptions
}

/**
 * Discovery for `createAuth`: the issuer, its `jwksUri`, and (when `introspection` is given) the
 * introspection options with the discovered endpoint. Spread the result into the options and add
 * what metadata cannot say: `algorithms`, `audience`, `typ`.
 *
 * @example
 * const auth = createAuth({
 *   ...(await discoverAuthOptions('https://as.example', {
 *     introspection: { clientId: 'orders-api', clientSecret },
 *   })),
 *   algorithms: ['RS256'],
 *   audience: 'https://orders.example',
 *   typ: 'at+jwt',
 * })
 */
export async function discoverAuthOptions(
  issuer: string,
  options: DiscoveryOptions & { introspection?: Omit<IntrospectorOptions, 'endpoint'> } = {},
): Promise<DiscoveredAuthOptions> {
  const { introspection, ...discovery } = options
  const found = await discover(issuer, discovery)
  if (introspection !== undefined && found.introspectionEndpoint === undefined) {
    throw new Error(`discover: ${issuer} publishes no introspection_endpoint`)
  }
  if (found.jwksUri === undefined && introspection === undefined) {
    throw new Error(`discover: ${issuer} publishes no jwks_uri`)
  }
  return {
    issuer: found.issuer,
    ...(found.jwksUri === undefined ? {} : { jwksUri: found.jwksUri }),
    ...(introspection === undefined
      ? {}
      : {
          introspection: {
            allowHttp: discovery.allowHttp,
            ...introspection,
            endpoint: found.introspectionEndpoint!,
          },
        }),
  }
}
