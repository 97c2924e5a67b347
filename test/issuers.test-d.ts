/** The `issuers` option as users type it: a list of entries or a resolver, in every adapter. */
import type { AuthOptions, IssuerOptions, IssuerResolver } from '@authframework/core'
import { createAuth } from '@authframework/core'
import { authMiddleware } from '@authframework/express'
import { authPlugin } from '@authframework/fastify'
import Fastify from 'fastify'
import { describe, expectTypeOf, it } from 'vitest'

describe('issuers types', () => {
  it('takes a list of entries or a resolver', () => {
    expectTypeOf<AuthOptions['issuers']>().toEqualTypeOf<
      readonly IssuerOptions[] | IssuerResolver | undefined
    >()
    expectTypeOf<IssuerOptions['issuer']>().toEqualTypeOf<string>()
    expectTypeOf<IssuerResolver>().returns.toEqualTypeOf<
      IssuerOptions | undefined | null | Promise<IssuerOptions | undefined | null>
    >()
  })

  it('is accepted by createAuth and the adapters', async () => {
    const list: IssuerOptions[] = [
      { issuer: 'https://a.example', jwksUri: 'https://a.example/jwks', algorithms: ['RS256'] },
    ]
    createAuth({ audience: 'api', issuers: list })
    createAuth({ issuers: async (iss) => list.find((entry) => entry.issuer === iss) })
    authMiddleware({ issuers: list, issuerCache: undefined })
    await Fastify().register(authPlugin, {
      issuers: (iss: string) => list.find((e) => e.issuer === iss),
    })
  })

  it('an entry requires its issuer and refuses options that are not per issuer', () => {
    // @ts-expect-error: `issuer` is required
    const noIssuer: IssuerOptions = { publicKey: 'pem', algorithms: ['RS256'] }
    // @ts-expect-error: the cache is the instance's, not an issuer's
    const cached: IssuerOptions = { issuer: 'https://a.example', secret: 'x', cache: false }
    expectTypeOf(noIssuer).toEqualTypeOf<IssuerOptions>()
    expectTypeOf(cached).toEqualTypeOf<IssuerOptions>()
  })
})
