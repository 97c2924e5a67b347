import { isAuthError } from '../errors.js'
import { type ErrorResponse, errorResponse } from '../response.js'

export { TooManyAttemptsError } from '../errors.js'

/**
 * The HTTP answer of a login failure: 400 `invalid_request`, 401 `credentials_invalid`, 429
 * `too_many_attempts` with `Retry-After`, or 503 `auth_unavailable`, each with an
 * `application/problem+json` body and no `WWW-Authenticate`: a login endpoint takes a username and
 * a password in its body, not a bearer token, so it sends no Bearer challenge (whose `error=`
 * would describe a token that was never sent), and no Basic challenge that would make browsers
 * open their own dialog. `undefined` for anything that is not an `AuthError` (a bug: let it
 * propagate).
 *
 * @example
 * catch (err) {
 *   const answer = loginErrorResponse(err)
 *   if (answer === undefined) throw err
 *   res.writeHead(answer.status, answer.headers).end(answer.body)
 * }
 */
export function loginErrorResponse(error: unknown): ErrorResponse | undefined {
  if (!isAuthError(error)) return undefined
  const { 'www-authenticate': _challenge, ...headers } = errorResponse(error).headers
  return { ...errorResponse(error), headers }
}
