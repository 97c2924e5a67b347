/** Login: password hashing, failed-attempt limits and `authenticateUser`. Re-exported by the core entry. */

export { LOGIN_OUTCOMES, type LoginOutcome } from '../metrics/metrics.js'
export {
  type AuthenticatedUser,
  type AuthenticateUserInput,
  type AuthenticateUserOptions,
  authenticateUser,
  createLogin,
  type Login,
} from './authenticate-user.js'
export { clientAddressGroup } from './client-address.js'
export { loginErrorResponse, TooManyAttemptsError } from './errors.js'
export { isUsableUsername, MAX_USERNAME_LENGTH } from './input.js'
export {
  type Argon2Params,
  createPasswordHasher,
  defaultPasswordHasher,
  hashPassword,
  MAX_PASSWORD_BYTES,
  OWASP_ARGON2ID,
  type PasswordCheck,
  type PasswordHasher,
  type PasswordHasherOptions,
  parseArgon2idHash,
  verifyPassword,
} from './password.js'
export {
  createRateLimiter,
  type LoginAttempt,
  type LoginReservation,
  RATE_LIMIT_DEFAULTS,
  type RateLimiter,
  type RateLimiterOptions,
  type RateLimitRule,
} from './rate-limit.js'
export type {
  LoginAuditEvent,
  LoginAuditSink,
  LoginUserRecord,
  UserStore,
} from './user-store.js'
