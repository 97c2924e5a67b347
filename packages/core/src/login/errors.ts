import { isAuthError } from '../errors.js'
import { type ErrorResponse, errorResponse } from '../response.js'

export { TooManyAttemptsError } from '../errors.js'

/**
 * The HTTP answer of a login failure: 401 `credentials_invalid` (with the Bearer realm, not a
 * Basic challenge that would make browsers open their own dialog), 429 `too_many_attempts` with
 * `Retry-After`, or 503 `auth_unavailable`, each with an `application/problem+json` body.
 * `undefined` for anything that is not an `AuthError` (a bug: let it propagate).
 *
 * @example
 * catch (err) {
 *   const answer = loginErrorResponse(err)
 *   if (answer === undefined) throw err
 *   res.writeHead(answer.status, answer.headers).end(answer.body)
 * }
 */
export function loginErrorResponse(error: unknown): ErrorResponse | undefined {
  return isAuthError(error) ? errorResponse(error) : undefined
}
