import { generateKeyPair, generateProof } from 'dpop'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ADAPTERS, type OrdersApi, ordersApis, ordersOptions } from './support/apps.js'
import {
  JWT_CLIENT,
  OPAQUE_CLIENT,
  ORDERS,
  type RunningProvider,
  startProvider,
} from './support/provider.js'

describe.each(ADAPTERS)('DPoP: %s against oidc-provider', (adapter) => {
  let provider: RunningProvider
  const start = ordersApis(adapter)

  beforeAll(async () => {
    provider = await startProvider()
  })
  afterAll(async () => {
    await provider.close()
  })

  async function ordersApi(): Promise<OrdersApi> {
    const { api } = await start({ ...(await ordersOptions(provider)), dpop: 'allowed' })
    return api
  }

  /** A DPoP-bound token of `client`, and the client's key. */
  async function boundToken(client: string) {
    const keyPair = await generateKeyPair('ES256')
    const proof = await generateProof(keyPair, `${provider.issuer}/token`, 'POST')
    return { keyPair, token: await provider.token(client, ORDERS, undefined, undefined, proof) }
  }

  for (const [kind, client] of [
    ['a JWT', JWT_CLIENT],
    ['an introspected', OPAQUE_CLIENT],
  ] as const) {
    it(`accepts ${kind} DPoP-bound token with the client's proofs, and refuses its replay or use as Bearer`, async () => {
      const api = await ordersApi()
      const { keyPair, token } = await boundToken(client)
      const htu = `${api.url}/orders`
      for (let i = 0; i < 2; i++) {
        const proof = await generateProof(keyPair, htu, 'GET', undefined, token)
        const res = await api.get(token, { scheme: 'DPoP', proof })
        expect(res.status, JSON.stringify(res.body)).toBe(200)
        expect(res.body).toMatchObject({ auth: { claims: { cnf: { jkt: expect.any(String) } } } })
      }
      const proof = await generateProof(keyPair, htu, 'GET', undefined, token)
      expect((await api.get(token, { scheme: 'DPoP', proof })).status).toBe(200)
      const replayed = await api.get(token, { scheme: 'DPoP', proof })
      expect(replayed.status).toBe(401)
      expect(replayed.body).toMatchObject({ code: 'dpop_proof_invalid' })
      expect(replayed.headers.get('www-authenticate')).toBe(
        'DPoP realm="api", error="invalid_dpop_proof", error_description="The DPoP proof has been used before.", algs="ES256 ES384 EdDSA PS256 RS256"',
      )
      const asBearer = await api.get(token)
      expect(asBearer.status).toBe(401)
      expect(asBearer.body).toMatchObject({ code: 'token_invalid' })
      const thief = await generateKeyPair('ES256')
      const stolen = await generateProof(thief, htu, 'GET', undefined, token)
      const res = await api.get(token, { scheme: 'DPoP', proof: stolen })
      expect([res.status, res.headers.get('www-authenticate')]).toEqual([
        401,
        'DPoP realm="api", error="invalid_token", error_description="The DPoP proof key is not the key the token is bound to.", algs="ES256 ES384 EdDSA PS256 RS256"',
      ])
    })
  }
})
