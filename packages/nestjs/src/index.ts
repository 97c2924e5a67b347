export type { AuthContext } from '@authframework/core'
export {
  AuthError,
  allOf,
  anyOf,
  createAuth,
  createSigner,
  not,
  requireDpop,
} from '@authframework/core'
export {
  Auth,
  type NestAuthOptions,
  type NestRequest,
  OptionalAuth,
  Public,
  RequirePermission,
} from './decorators.js'
export { AuthException, AuthExceptionFilter } from './exception.js'
export {
  AUTH_INSTANCE,
  AuthGuard,
  AuthModule,
  type AuthModuleAsyncOptions,
} from './module.js'
