/**
 * Interoperability with a real authorization server (oidc-provider), through each adapter: JWT
 * access tokens (RFC 9068) verified with the JWKS discovered from the issuer's metadata, opaque
 * tokens introspected (RFC 7662), key rotation, and tokens for another resource (RFC 8707).
 */
import { generateKeyPairSync, sign } from 'node:crypto'
import { type Auth, discoverAuthOptions } from '@authframework/core'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { ADAPTERS, type OrdersApi, ordersApis, ordersOptions } from './support/apps.js'
import {
  API_CLIENT,
  BILLING,
  JWT_CLIENT,
  OPAQUE_CLIENT,
  ORDERS,
  type RunningProvider,
  startProvider,
} from './support/provider.js'

const COOLDOWN_MS = 30_000

/** A well-formed at+jwt for the orders API, signed with a key nobody published (kid "rogue"). */
function forge(issuer: string, now: number): string {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url')
  const input = `${part({ alg: 'RS256', typ: 'at+jwt', kid: 'rogue' })}.${part({
    iss: issuer,
    aud: ORDERS,
    sub: JWT_CLIENT,
    client_id: JWT_CLIENT,
    scope: 'orders:read',
    iat: now,
    exp: now + 300,
    jti: 'forged',
  })}`
  return `${input}.${sign('sha256', Buffer.from(input), privateKey).toString('base64url')}`
}

describe.each(ADAPTERS)('%s against oidc-provider', (adapter) => {
  let provider: RunningProvider
  const skew = { ms: 0 }
  const start = ordersApis(adapter)

  beforeAll(async () => {
    provider = await startProvider()
  })
  afterEach(() => {
    skew.ms = 0
  })
  afterAll(async () => {
    await provider.close()
  })

  /** The orders API as a user would configure it: issuer + discovery, at+jwt, its own audience. */
  async function ordersApi(): Promise<{ auth: Auth<never>; api: OrdersApi }> {
    return start({
      ...(await ordersOptions(provider)),
      jwks: { cooldownMs: COOLDOWN_MS },
      clock: () => Date.now() + skew.ms,
    })
  }

  it('discovers the JWKS URI and the introspection endpoint from the issuer', async () => {
    const discovered = await discoverAuthOptions(provider.issuer, {
      introspection: { clientId: API_CLIENT, clientSecret: 'x' },
    })
    expect(discovered).toMatchObject({
      issuer: provider.issuer,
      jwksUri: `${provider.issuer}/jwks`,
      introspection: { endpoint: `${provider.issuer}/token/introspection` },
    })
  })

  it('verifies the JWT access tokens it issues (at+jwt, audience = the resource)', async () => {
    const { api } = await ordersApi()
    const token = await provider.token(JWT_CLIENT, ORDERS)
    const header = JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString())
    expect(header).toMatchObject({ typ: 'at+jwt', alg: 'RS256', kid: provider.kids[0] })
    const response = await api.get(token)
    expect(response.status).toBe(200)
    expect(response.body).toMatchObject({
      auth: {
        sub: JWT_CLIENT,
        permissions: ['orders:read'],
        claims: { iss: provider.issuer, aud: ORDERS, client_id: JWT_CLIENT },
      },
    })
    expect(provider.counts.introspection).toBe(0)
  })

  it('introspects its opaque tokens (once, then from the cache)', async () => {
    const { api } = await ordersApi()
    const before = provider.counts.introspection
    const token = await provider.token(OPAQUE_CLIENT, ORDERS)
    expect(token.split('.')).toHaveLength(1)
    for (let i = 0; i < 3; i++) {
      const response = await api.get(token)
      expect(response.status).toBe(200)
      expect(response.body).toMatchObject({
        auth: {
          sub: OPAQUE_CLIENT,
          permissions: ['orders:read'],
          claims: { iss: provider.issuer, aud: ORDERS, client_id: OPAQUE_CLIENT },
        },
      })
    }
    expect(provider.counts.introspection - before).toBe(1)
    const unknown = await api.get('not-a-token-the-provider-issued')
    expect(unknown.status).toBe(401)
    expect(unknown.body).toMatchObject({ code: 'token_invalid' })
  })

  it('rejects tokens issued for another resource, JWT or opaque: 401 token_invalid', async () => {
    const { api } = await ordersApi()
    for (const client of [JWT_CLIENT, OPAQUE_CLIENT]) {
      const token = await provider.token(client, BILLING)
      const response = await api.get(token)
      expect(response.status).toBe(401)
      expect(response.body).toMatchObject({ code: 'token_invalid' })
      expect(response.headers.get('www-authenticate')).toMatch(/error="invalid_token"/)
    }
  })

  it('survives a key rotation: one refetch per unknown kid and cooldown; old tokens until they expire', async () => {
    const { api } = await ordersApi()
    const jwks = () => provider.counts.jwks
    const start = jwks()
    const old = await provider.token(JWT_CLIENT, ORDERS)
    expect((await api.get(old)).status).toBe(200)
    expect(jwks() - start).toBe(1)

    provider.rotate() // a new key, first; the old one still published
    const fresh = await provider.token(JWT_CLIENT, ORDERS)
    const freshKid = JSON.parse(Buffer.from(fresh.split('.')[0]!, 'base64url').toString()).kid
    expect(freshKid).toBe(provider.kids[0])
    expect(freshKid).not.toBe(provider.kids[1])

    // within the cooldown of the last fetch an unknown kid does not refetch (it is refused)
    expect((await api.get(fresh)).status).toBe(401)
    expect(jwks() - start).toBe(1)

    // past the cooldown: concurrent requests with the new kid cause exactly one refetch
    skew.ms += COOLDOWN_MS
    const burst = await Promise.all(Array.from({ length: 10 }, () => api.get(fresh)))
    expect(burst.map((r) => r.status)).toEqual(Array(10).fill(200))
    expect(jwks() - start).toBe(2)
    expect((await api.get(old)).status).toBe(200) // the old key is still known
    expect((await api.get(await provider.token(JWT_CLIENT, ORDERS))).status).toBe(200)
    expect(jwks() - start).toBe(2)

    // a kid nobody published, within the cooldown: refused, no refetch
    const forged = forge(provider.issuer, Math.floor((Date.now() + skew.ms) / 1000))
    for (let i = 0; i < 5; i++) expect((await api.get(forged)).status).toBe(401)
    expect(jwks() - start).toBe(2)
    // after another cooldown it is worth exactly one more look, and still refused
    skew.ms += COOLDOWN_MS
    for (let i = 0; i < 5; i++) expect((await api.get(forged)).status).toBe(401)
    expect(jwks() - start).toBe(3)

    // old tokens verify until they expire (300 s), then they are expired, not unknown
    skew.ms += 300_000 - 2 * COOLDOWN_MS
    const expired = await api.get(old)
    expect(expired.status).toBe(401)
    expect(expired.body).toMatchObject({ code: 'token_expired' })
  })
})
