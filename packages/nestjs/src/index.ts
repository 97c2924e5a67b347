export type { AuthContext, StepUpOptions } from '@authframework/core'
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
  RequireAuthentication,
  RequirePermission,
} from './decorators.js'
export { AuthException, AuthExceptionFilter } from './exception.js'
export {
  AUTH_INSTANCE,
  AuthGuard,
  AuthModule,
  type AuthModuleAsyncOptions,
} from './module.js'
