import { isDpopBound } from '../handlers/dpop.js'
import type { Predicate } from '../permissions/predicates.js'
import { DpopRequiredError } from './errors.js'

/**
 * A route requirement: the caller's token must be DPoP-bound (`cnf.jkt`). Such a token is accepted
 * only with the DPoP scheme and a valid proof of its key, so this makes one route DPoP-only while
 * the instance also accepts Bearer tokens (`dpop: 'allowed'`). Refuses with 401 `dpop_required`
 * and a `DPoP` challenge; give it at the top level of `requirePermission`, not inside `anyOf`/`not`.
 *
 * @example
 * app.post('/transfers', requirePermission(requireDpop(), 'transfers:write'), handler)
 */
export function requireDpop<Req = unknown>(): Predicate<Req> {
  return (auth) => {
    if (isDpopBound(auth)) return true
    throw new DpopRequiredError(
      'This route accepts only DPoP-bound tokens sent with the DPoP scheme.',
    )
  }
}
