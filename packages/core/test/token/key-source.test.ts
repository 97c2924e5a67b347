import { describe, expect, it } from 'vitest'
import { createAuth, createMetrics } from '../../src/index.js'
import { AUDIENCE, claims, fakeClock, handSign, rsaKeyPair } from '../helpers.js'

const A = 'https://a.example'
const B = 'https://b.example'
const rsaA = rsaKeyPair()
const rsaA2 = rsaKeyPair()
const rsaB = rsaKeyPair()
const jwk = (pair: typeof rsaA, kid: string) => ({
  ...pair.publicKey.export({ format: 'jwk' }),
  kid,
  alg: 'RS256',
  use: 'sig',
})

describe('openKeySource with issuers', () => {
  it("a rotation of one issuer's key set drops the cached verifications of its tokens only", async () => {
    const time = fakeClock()
    let document = { keys: [jwk(rsaA, 'a1')] }
    let fetches = 0
    const metrics = createMetrics()
    const auth = createAuth({
      audience: AUDIENCE,
      clock: time.clock,
      metrics,
      issuers: [
        {
          issuer: A,
          jwksUri: 'https://a.example/jwks',
          algorithms: ['RS256'],
          jwks: {
            cacheMaxAgeMs: 1000,
            fetch: async () => {
              fetches++
              return new Response(JSON.stringify(document))
            },
          },
        },
        { issuer: B, publicKey: rsaB.publicPem, algorithms: ['RS256'] },
      ],
    })
    const tokenA = (jti: string) =>
      handSign({ alg: 'RS256', kid: 'a1' }, claims({ iss: A, jti }), 'RS256', rsaA.privateKey)
    const tokenB = handSign({ alg: 'RS256' }, claims({ iss: B }), 'RS256', rsaB.privateKey)
    const hitsAndMisses = () => {
      const { hits, misses } = metrics.snapshot().verificationCache
      return { hits, misses }
    }

    await auth.verify(tokenA('1'))
    await auth.verify(tokenB)
    await auth.verify(tokenA('1'))
    await auth.verify(tokenB)
    expect(hitsAndMisses()).toEqual({ hits: 2, misses: 2 })

    document = { keys: [jwk(rsaA2, 'a2'), jwk(rsaA, 'a1')] } // A rotates (its old key still published)
    time.advanceSeconds(2)
    await auth.verify(tokenA('2')) // a miss: the stale set is fetched again, and has changed
    expect(fetches).toBe(2)
    await auth.verify(tokenA('1')) // dropped: verified again
    await auth.verify(tokenB) // B's entry stays
    expect(hitsAndMisses()).toEqual({ hits: 3, misses: 4 })
  })
})
