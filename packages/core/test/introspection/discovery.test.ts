import { once } from 'node:events'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { metadataUrls } from '../../src/introspection/discovery.js'
import { discover, discoverAuthOptions } from '../../src/introspection/index.js'

type Handler = (req: IncomingMessage, res: ServerResponse, origin: string) => void
const cleanup: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const fn of cleanup.splice(0)) await fn()
})

/** A metadata server; `handler` sees every request, `paths` records them. */
async function metadataServer(handler: Handler) {
  const paths: string[] = []
  let origin = ''
  const server = createServer((req, res) => {
    paths.push(req.url ?? '')
    handler(req, res, origin)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  cleanup.push(() => {
    server.closeAllConnections()
    return new Promise((r) => server.close(() => r()))
  })
  return { origin, paths }
}

function json(res: ServerResponse, body: unknown, status = 200) {
  res.writeHead(status, { 'content-type': 'application/json' })
  res.end(JSON.stringify(body))
}

describe('discover', () => {
  it('reads the OpenID configuration and returns jwks_uri and introspection_endpoint', async () => {
    const { origin, paths } = await metadataServer((_req, res, o) =>
      json(res, {
        issuer: o,
        jwks_uri: `${o}/jwks`,
        introspection_endpoint: `${o}/token/introspection`,
        token_endpoint: `${o}/token`,
      }),
    )
    const found = await discover(origin)
    expect(found).toMatchObject({
      issuer: origin,
      jwksUri: `${origin}/jwks`,
      introspectionEndpoint: `${origin}/token/introspection`,
    })
    expect(found.metadata.token_endpoint).toBe(`${origin}/token`)
    expect(paths).toEqual(['/.well-known/openid-configuration'])
  })

  it('falls back to RFC 8414 metadata, with the issuer path after the well-known segment', async () => {
    const { origin, paths } = await metadataServer((req, res, o) => {
      if (req.url === '/.well-known/oauth-authorization-server/tenant-a') {
        json(res, { issuer: `${o}/tenant-a`, jwks_uri: `${o}/tenant-a/jwks` })
      } else json(res, { error: 'not_found' }, 404)
    })
    const found = await discover(`${origin}/tenant-a`)
    expect(found.jwksUri).toBe(`${origin}/tenant-a/jwks`)
    expect(found.introspectionEndpoint).toBeUndefined()
    expect(paths).toEqual([
      '/tenant-a/.well-known/openid-configuration',
      '/.well-known/oauth-authorization-server/tenant-a',
    ])
  })

  it('builds the well-known URLs per OIDC Discovery 4.1 and RFC 8414 3.1', () => {
    expect(
      metadataUrls(new URL('https://as.example/t/'), [
        'openid-configuration',
        'oauth-authorization-server',
      ]),
    ).toEqual([
      'https://as.example/t/.well-known/openid-configuration',
      'https://as.example/.well-known/oauth-authorization-server/t',
    ])
  })

  it('refuses metadata whose issuer is not exactly the configured one', async () => {
    const { origin } = await metadataServer((_req, res) =>
      json(res, { issuer: 'https://evil.example', jwks_uri: 'https://evil.example/jwks' }),
    )
    await expect(discover(origin)).rejects.toThrow(/names the issuer "https:\/\/evil\.example"/)
    const slash = await metadataServer((_req, res, o) =>
      json(res, { issuer: `${o}/`, jwks_uri: `${o}/jwks` }),
    )
    await expect(discover(slash.origin)).rejects.toThrow(/names the issuer/)
  })

  it('follows no redirect', async () => {
    const target = await metadataServer((_req, res, o) =>
      json(res, { issuer: o, jwks_uri: `${o}/jwks` }),
    )
    const { origin } = await metadataServer((_req, res) => {
      res.writeHead(302, { location: `${target.origin}/.well-known/openid-configuration` })
      res.end()
    })
    await expect(discover(origin)).rejects.toThrow(/could not be fetched/)
    expect(target.paths).toEqual([])
  })

  it('bounds the body and the time', async () => {
    const big = await metadataServer((_req, res, o) =>
      json(res, { issuer: o, jwks_uri: `${o}/jwks`, padding: 'x'.repeat(10_000) }),
    )
    await expect(discover(big.origin, { maxBytes: 2_048 })).rejects.toThrow(/usable JSON/)
    const slow = await metadataServer(() => {})
    const started = performance.now()
    await expect(discover(slow.origin, { timeoutMs: 100 })).rejects.toThrow(/could not be fetched/)
    expect(performance.now() - started).toBeLessThan(1_000)
  })

  it('refuses non-https endpoints in the metadata and bad issuers', async () => {
    const { origin } = await metadataServer((_req, res, o) =>
      json(res, { issuer: o, jwks_uri: 'http://keys.example/jwks' }),
    )
    await expect(discover(origin)).rejects.toThrow(/jwks_uri must be an https: URL/)
    await expect(discover('http://as.example')).rejects.toThrow(TypeError)
    await expect(discover('https://as.example?x=1')).rejects.toThrow(/no query/)
    await expect(discover('not a url')).rejects.toThrow(TypeError)
  })

  it('fails when no document is found', async () => {
    const { origin } = await metadataServer((_req, res) => json(res, {}, 404))
    await expect(discover(origin)).rejects.toThrow(/no metadata found.*404.*404/)
  })
})

describe('discoverAuthOptions', () => {
  it('gives createAuth options: issuer, jwksUri, and introspection with the endpoint', async () => {
    const { origin } = await metadataServer((_req, res, o) =>
      json(res, { issuer: o, jwks_uri: `${o}/jwks`, introspection_endpoint: `${o}/introspect` }),
    )
    expect(
      await discoverAuthOptions(origin, { introspection: { clientId: 'a', clientSecret: 'b' } }),
    ).toEqual({
      issuer: origin,
      jwksUri: `${origin}/jwks`,
      introspection: {
        allowHttp: undefined,
        clientId: 'a',
        clientSecret: 'b',
        endpoint: `${origin}/introspect`,
      },
    })
    expect(await discoverAuthOptions(origin)).toEqual({ issuer: origin, jwksUri: `${origin}/jwks` })
  })

  it('fails when introspection is asked for and the server publishes no endpoint', async () => {
    const { origin } = await metadataServer((_req, res, o) =>
      json(res, { issuer: o, jwks_uri: `${o}/jwks` }),
    )
    await expect(
      discoverAuthOptions(origin, { introspection: { clientId: 'a', clientSecret: 'b' } }),
    ).rejects.toThrow(/no introspection_endpoint/)
  })
})
