/**
 * Remote validation: RFC 7662 introspection of opaque tokens with a two-layer cache, and issuer
 * metadata discovery. Re-exported by the core entry.
 */
export {
  type ClientAuth,
  type ClientAuthParts,
  IntrospectionRequestError,
} from './client.js'
export {
  type DiscoveredAuthOptions,
  type DiscoveredIssuer,
  type DiscoveryOptions,
  discover,
  discoverAuthOptions,
  type WellKnown,
} from './discovery.js'
export {
  createIntrospector,
  type Introspector,
  type IntrospectorStats,
} from './introspector.js'
export { INTROSPECTOR_DEFAULTS, type IntrospectorOptions } from './introspector-options.js'
export {
  type IntrospectedClaims,
  type IntrospectionRedisOptions,
  introspectionKey,
} from './token-cache.js'
