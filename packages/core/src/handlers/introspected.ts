/**
 * Opaque bearer tokens, checked by the authorization server (RFC 7662). Its answer goes through
 * the same claim checks, revocation check and permission resolution as a JWT's. The bearer handler
 * hands over the tokens that are not JWT-shaped, after its length and alphabet checks.
 */
import { cacheKey } from '../cache/verification-cache.js'
import { AuthUnavailableError, TokenInvalidError } from '../errors.js'
import type { AuthContext, TokenIntrospector } from '../types.js'
import type { ProvenHandler } from './bearer.js'
import { NO_PROOF } from './confirmation.js'
import { unavailable } from './handler.js'
import type { TokenSteps } from './token.js'

export interface IntrospectedHandlerOptions {
  readonly introspector: TokenIntrospector
  readonly steps: TokenSteps
}

/**
 * The introspected-token handler. An answer is never put in the verification cache: the
 * introspector's own cache (its `maxTtlSeconds`, `cache: false`, `evict`) alone decides how long
 * an answer may be reused.
 *
 * @example
 * const opaque = createIntrospectedHandler({ introspector: createIntrospector({ endpoint, clientId, clientSecret }), steps })
 * const context = await opaque.authenticate({ kind: 'bearer', token, source: 'header' }, input)
 */
export function createIntrospectedHandler(options: IntrospectedHandlerOptions): ProvenHandler {
  const { introspector, steps } = options
  return {
    authenticate({ token }, input, proof = NO_PROOF): Promise<AuthContext> {
      return introspector
        .introspect(token)
        .then(
          (claims) => {
            if (claims === null || claims === undefined)
              throw new TokenInvalidError('The token is not active.')
            if (typeof claims !== 'object') {
              throw new AuthUnavailableError('The introspection answer is not an object.', {
                dependency: 'introspection',
              })
            }
            return steps.finish({ header: {}, payload: { ...claims } }, undefined)
          },
          (cause: unknown) => {
            throw unavailable(cause, 'The token could not be introspected.', 'introspection')
          },
        )
        .then((entry) => steps.admit(entry, token, cacheKey, input, proof))
    },
  }
}
