/**
 * `Authorization: Basic` credentials (RFC 7617), checked by the application's `basic.verify`.
 */
import { AuthUnavailableError, CredentialsInvalidError } from '../errors.js'
import type { BasicUser, BasicVerify } from '../options/types.js'
import { checkedPermissions } from '../permissions/resolve.js'
import type { AuthContext } from '../types.js'
import type { BasicCredential, CredentialHandler, ResolvePermissions } from './handler.js'
import { unavailable } from './handler.js'

export interface BasicHandlerOptions<Req> {
  readonly verify: BasicVerify<Req>
  readonly resolvePermissions: ResolvePermissions
}

/**
 * The Basic handler. `verify` resolving `null` is 401 `credentials_invalid`; rejecting, or
 * resolving a user without a string `sub` or with malformed permissions, is 503: a failed check is
 * never an allow.
 *
 * @example
 * const basic = createBasicHandler({ verify: async ({ username, password }) => users.check(username, password), resolvePermissions })
 * const context = await basic.authenticate({ kind: 'basic', credentials: { username, password } }, input)
 */
export function createBasicHandler<Req>(
  options: BasicHandlerOptions<Req>,
): CredentialHandler<BasicCredential> {
  const { verify, resolvePermissions } = options
  return {
    async authenticate({ credentials }, input): Promise<AuthContext> {
      let user: BasicUser | null
      try {
        user = await verify(credentials, input.request as Req)
      } catch (cause) {
        throw unavailable(cause, 'Basic credentials could not be checked.', 'basic')
      }
      if (user === null || user === undefined) throw new CredentialsInvalidError()
      if (typeof user.sub !== 'string' || user.sub === '') {
        throw new AuthUnavailableError('basic.verify resolved a user without a string `sub`.', {
          dependency: 'basic',
        })
      }
      const record = checkedPermissions(user.permissions, user.roles, 'basic.verify')
      return resolvePermissions(
        Object.freeze({
          sub: user.sub,
          claims: Object.freeze({ sub: user.sub }),
          permissions: record.permissions,
          roles: record.roles,
        }),
      )
    },
  }
}
