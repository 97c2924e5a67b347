/** What users see: the introspection option takes options or an introspector; discovery spreads in. */
import { describe, expectTypeOf, it } from 'vitest'
import type { AuthOptions, TokenIntrospector } from '../../src/index.js'
import {
  createIntrospector,
  type DiscoveredAuthOptions,
  discoverAuthOptions,
  type IntrospectedClaims,
  type Introspector,
  type IntrospectorOptions,
} from '../../src/introspection/index.js'

describe('introspection types', () => {
  it('createAuth({ introspection }) takes the options or a TokenIntrospector', () => {
    expectTypeOf<IntrospectorOptions>().toExtend<NonNullable<AuthOptions['introspection']>>()
    expectTypeOf<TokenIntrospector>().toExtend<NonNullable<AuthOptions['introspection']>>()
    expectTypeOf<Introspector>().toExtend<TokenIntrospector>()
  })

  it('an introspector resolves frozen claims or null, and evicts', () => {
    const introspector = createIntrospector({
      endpoint: 'https://as.example/introspect',
      clientId: 'api',
      clientSecret: 'secret',
    })
    expectTypeOf(introspector.introspect('t')).toEqualTypeOf<Promise<IntrospectedClaims | null>>()
    expectTypeOf(introspector.evict('t')).toEqualTypeOf<Promise<void>>()
  })

  it('discoverAuthOptions spreads into AuthOptions', () => {
    expectTypeOf(discoverAuthOptions('https://as.example')).toEqualTypeOf<
      Promise<DiscoveredAuthOptions>
    >()
    expectTypeOf<DiscoveredAuthOptions & { audience: string }>().toExtend<AuthOptions>()
  })
})
