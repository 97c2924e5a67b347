/**
 * Two real authorization servers (two oidc-provider instances, two issuers, two key sets) behind
 * one middleware, through each adapter: each one's access tokens are accepted with its own
 * discovered JWKS, and a token of one is never verified with the other's keys or rules.
 */
import { type AuthOptions, discoverAuthOptions, type IssuerOptions } from '@authframework/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ADAPTERS, type OrdersApi, ordersApis } from './support/apps.js'
import { JWT_CLIENT, ORDERS, type RunningProvider, startProvider } from './support/provider.js'

/** The same token with its `iss` replaced: the signature still that of the original issuer. */
function renamed(token: string, iss: string): string {
  const [header, payload, signature] = token.split('.') as [string, string, string]
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString())
  const forged = Buffer.from(JSON.stringify({ ...claims, iss })).toString('base64url')
  return `${header}.${forged}.${signature}`
}

/** An issuer entry as a user writes it: discovery, then what metadata cannot say. */
async function entry(provider: RunningProvider): Promise<IssuerOptions> {
  return {
    ...(await discoverAuthOptions(provider.issuer)),
    algorithms: ['RS256'],
    audience: ORDERS,
    typ: 'at+jwt',
    permissionsClaim: 'scope',
  }
}

describe.each(ADAPTERS)('%s with two oidc-provider issuers', (adapter) => {
  let one: RunningProvider
  let two: RunningProvider
  const start = ordersApis(adapter)

  beforeAll(async () => {
    one = await startProvider()
    two = await startProvider()
  })
  afterAll(async () => {
    await one.close()
    await two.close()
  })

  async function api(issuers: AuthOptions<never>['issuers']): Promise<OrdersApi> {
    const { api: running } = await start({ issuers })
    return running
  }

  it.each(['list', 'resolver'] as const)(
    "accepts each issuer's access tokens (%s), each verified with its own JWKS",
    async (kind) => {
      const entries = new Map([
        [one.issuer, await entry(one)],
        [two.issuer, await entry(two)],
      ])
      const orders = await api(
        kind === 'list' ? [...entries.values()] : async (iss: string) => entries.get(iss),
      )
      const before = { one: one.counts.jwks, two: two.counts.jwks }
      for (const provider of [one, two, one, two]) {
        const response = await orders.get(await provider.token(JWT_CLIENT, ORDERS))
        expect(response.status).toBe(200)
        expect(response.body).toMatchObject({
          auth: {
            sub: JWT_CLIENT,
            permissions: ['orders:read'],
            claims: { iss: provider.issuer, aud: ORDERS },
          },
        })
      }
      expect({ one: one.counts.jwks - before.one, two: two.counts.jwks - before.two }).toEqual({
        one: 1,
        two: 1,
      })
    },
  )

  it("refuses a token of one issuer renamed to the other's (its signature is not the other's)", async () => {
    const orders = await api([await entry(one), await entry(two)])
    const genuine = await one.token(JWT_CLIENT, ORDERS)
    expect((await orders.get(genuine)).status).toBe(200)
    const fetched = one.counts.jwks
    for (const forged of [
      renamed(genuine, two.issuer),
      renamed(await two.token(JWT_CLIENT, ORDERS), one.issuer),
    ]) {
      const response = await orders.get(forged)
      expect(response.status).toBe(401)
      expect(response.body).toMatchObject({ code: 'token_invalid' })
      expect(response.headers.get('www-authenticate')).toMatch(
        /^Bearer realm="api", error="invalid_token"/,
      )
    }
    expect(one.counts.jwks).toBe(fetched)
  })

  it("refuses the other issuer's tokens when only one is configured, with no fetch of its keys", async () => {
    const orders = await api([await entry(one)])
    const before = two.counts.jwks
    const response = await orders.get(await two.token(JWT_CLIENT, ORDERS))
    expect(response.status).toBe(401)
    expect(response.headers.get('www-authenticate')).toBe(
      'Bearer realm="api", error="invalid_token", error_description="The token issuer is not accepted."',
    )
    expect(two.counts.jwks).toBe(before)
  })

  it("checks each token under its own issuer's rules: another audience for one issuer refuses its tokens only", async () => {
    const orders = await api([
      await entry(one),
      { ...(await entry(two)), audience: 'https://elsewhere.example' },
    ])
    expect((await orders.get(await one.token(JWT_CLIENT, ORDERS))).status).toBe(200)
    const response = await orders.get(await two.token(JWT_CLIENT, ORDERS))
    expect(response.status).toBe(401)
    expect(response.headers.get('www-authenticate')).toBe(
      'Bearer realm="api", error="invalid_token", error_description="The aud claim does not match."',
    )
  })
})
