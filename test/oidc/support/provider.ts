/**
 * A real authorization server for interoperability tests: `oidc-provider` in process on
 * 127.0.0.1 (a free port), with the client-credentials grant, RFC 8707 resource indicators, RFC
 * 9068 JWT access tokens (`typ: at+jwt`) for one client and opaque tokens for another, RFC 7662
 * introspection for the API, and RFC 9449 DPoP-bound tokens for a client that sends a proof. The signing keys can be rotated; requests to the JWKS and
 * introspection endpoints are counted.
 */
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto'
import { once } from 'node:events'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import Provider, { type Configuration, errors } from 'oidc-provider'

/** The API under test: the resource its tokens must be issued for. */
export const ORDERS = 'https://orders.example'
/** Another API: tokens for it must be refused by the orders API. */
export const BILLING = 'https://billing.example'

/** Gets JWT access tokens. */
export const JWT_CLIENT = 'svc'
/** Gets opaque access tokens. */
export const OPAQUE_CLIENT = 'legacy-svc'
/** The orders API's own credentials, for introspection. */
export const API_CLIENT = 'orders-api'
/** Get access tokens bound to the client certificate of their token request (RFC 8705): JWT, opaque. */
export const MTLS_CLIENT = 'mtls-svc'
export const MTLS_OPAQUE_CLIENT = 'mtls-legacy-svc'
const OPAQUE_CLIENTS = new Set([OPAQUE_CLIENT, MTLS_OPAQUE_CLIENT])
const BOUND_CLIENTS = new Set([MTLS_CLIENT, MTLS_OPAQUE_CLIENT])
/**
 * Where the provider reads the client certificate of a token request (URL-encoded PEM), as it
 * would behind a TLS-terminating proxy; it binds the tokens of the clients above to it.
 */
const CLIENT_CERT_HEADER = 'x-client-cert'

type Jwk = Record<string, unknown> & { kid: string }

function signingKey(): Jwk {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  return { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), alg: 'RS256', use: 'sig' }
}

export interface RunningProvider {
  readonly issuer: string
  readonly secrets: Readonly<Record<string, string>>
  /** Requests seen, per endpoint. */
  readonly counts: { jwks: number; introspection: number; token: number }
  /** The `kid`s served in the JWKS, the signing key first. */
  readonly kids: readonly string[]
  /**
   * A client-credentials access token for `resource`; bound to `certificate` (PEM) for the
   * RFC 8705 clients; with `dpop` (a proof for `POST /token`), DPoP-bound (RFC 9449 section 5).
   */
  token(
    client: string,
    resource: string,
    scope?: string,
    certificate?: string,
    dpop?: string,
  ): Promise<string>
  /**
   * Rotates: a new key is added first (it signs from now on); the previous keys stay published so
   * that tokens they signed keep verifying. `drop` removes the older keys instead.
   */
  rotate(options?: { drop?: boolean }): void
  close(): Promise<void>
}

/**
 * Starts the provider.
 *
 * @example
 * const provider = await startProvider()
 * const token = await provider.token(JWT_CLIENT, ORDERS)
 */
export async function startProvider(): Promise<RunningProvider> {
  const counts = { jwks: 0, introspection: 0, token: 0 }
  let handle: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => {
    res.writeHead(503).end()
  }
  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0]
    if (path === '/jwks') counts.jwks++
    else if (path === '/token/introspection') counts.introspection++
    else if (path === '/token') counts.token++
    handle(req, res)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`

  const secrets: Record<string, string> = {
    [JWT_CLIENT]: randomBytes(32).toString('base64url'),
    [OPAQUE_CLIENT]: randomBytes(32).toString('base64url'),
    [API_CLIENT]: randomBytes(32).toString('base64url'),
    [MTLS_CLIENT]: randomBytes(32).toString('base64url'),
    [MTLS_OPAQUE_CLIENT]: randomBytes(32).toString('base64url'),
  }
  const scopes = ['orders:read', 'orders:write', 'billing:read']
  const resources: Record<string, string> = {
    [ORDERS]: 'orders:read orders:write',
    [BILLING]: 'billing:read',
  }
  const configuration = (keys: Jwk[]): Configuration => ({
    clients: [
      ...[JWT_CLIENT, OPAQUE_CLIENT, MTLS_CLIENT, MTLS_OPAQUE_CLIENT].map((id) => ({
        client_id: id,
        client_secret: secrets[id]!,
        grant_types: ['client_credentials'],
        redirect_uris: [],
        response_types: [],
        scope: scopes.join(' '),
        tls_client_certificate_bound_access_tokens: BOUND_CLIENTS.has(id),
      })),
      {
        client_id: API_CLIENT,
        client_secret: secrets[API_CLIENT]!,
        grant_types: [],
        redirect_uris: [],
        response_types: [],
      },
    ],
    jwks: { keys: keys as never },
    scopes,
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    ttl: { ClientCredentials: 300, AccessToken: 300 },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      dPoP: { enabled: true },
      mTLS: {
        enabled: true,
        certificateBoundAccessTokens: true,
        getCertificate: (ctx) => {
          const escaped = ctx.get(CLIENT_CERT_HEADER)
          return escaped ? decodeURIComponent(escaped) : undefined
        },
      },
      // any authenticated client may introspect: the API itself must check the audience
      introspection: { enabled: true, allowedPolicy: async () => true },
      resourceIndicators: {
        enabled: true,
        defaultResource: async (_ctx, _client, oneOf) => oneOf ?? ORDERS,
        useGrantedResource: async () => true,
        getResourceServerInfo: async (_ctx, resource, client) => {
          const scope = resources[resource]
          if (scope === undefined) throw new errors.InvalidTarget()
          return {
            scope,
            audience: resource,
            accessTokenTTL: 300,
            accessTokenFormat: OPAQUE_CLIENTS.has(client.clientId) ? 'opaque' : 'jwt',
            jwt: { sign: { alg: 'RS256' } },
          }
        },
      },
    },
  })

  let keys: Jwk[] = [signingKey()]
  function install(): void {
    // the default memory adapter keeps its storage per module, so opaque tokens outlive a rotation
    const provider = new Provider(issuer, configuration(keys))
    handle = provider.callback()
  }
  install()

  return {
    issuer,
    secrets,
    counts,
    get kids() {
      return keys.map((k) => k.kid)
    },
    async token(client, resource, scope, certificate, dpop) {
      const response = await fetch(`${issuer}/token`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${client}:${secrets[client]}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
          ...(certificate && { [CLIENT_CERT_HEADER]: encodeURIComponent(certificate) }),
          ...(dpop === undefined ? {} : { dpop }),
        },
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          resource,
          scope: scope ?? resources[resource]!.split(' ')[0]!,
        }),
      })
      const body = (await response.json()) as { access_token?: string; error?: string }
      if (response.status !== 200 || body.access_token === undefined) {
        throw new Error(`token request failed: ${response.status} ${JSON.stringify(body)}`)
      }
      return body.access_token
    },
    rotate(options = {}) {
      keys = options.drop ? [signingKey()] : [signingKey(), ...keys]
      install()
    },
    async close() {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
