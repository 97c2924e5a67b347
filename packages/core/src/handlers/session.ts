/**
 * Server-side sessions: the `sessions` cookie names a session in the session store, which says
 * whose it is, until when, and (optionally) with which permissions.
 */
import { SessionInvalidError, UserInactiveError } from '../errors.js'
import { checkedPermissions } from '../permissions/resolve.js'
import { isCanonicalBase64url } from '../token/base64url.js'
import type { AuthContext, Clock, SessionRecord, SessionSource } from '../types.js'
import { isPromise } from '../util.js'
import type { CredentialHandler, ResolvePermissions, SessionCredential } from './handler.js'
import { unavailable } from './handler.js'

export interface SessionHandlerOptions {
  readonly store: SessionSource
  readonly clock: Clock
  readonly resolvePermissions: ResolvePermissions
}

/**
 * The session handler. A session that is unknown, expired or not one of ours is 401
 * `session_invalid`; its user deactivated, 401 `user_inactive`; a store that cannot answer, 503.
 * After a successful request the store is told of the activity (`touch`), which never fails it.
 *
 * @example
 * const sessions = createSessionHandler({ store: createSessionStore({ ... }), clock: Date.now, resolvePermissions })
 * const context = await sessions.authenticate({ kind: 'session', sessionId }, input)
 */
export function createSessionHandler(
  options: SessionHandlerOptions,
): CredentialHandler<SessionCredential> {
  const { store, clock, resolvePermissions } = options
  return {
    async authenticate({ sessionId }): Promise<AuthContext> {
      // ids are 256-bit random base64url; anything else cannot be a session of ours
      if (sessionId.length > 128 || !isCanonicalBase64url(sessionId, 0, sessionId.length)) {
        throw new SessionInvalidError()
      }
      let record: SessionRecord | null
      try {
        record = await store.get(sessionId)
      } catch (cause) {
        throw unavailable(cause, 'The session store is unavailable.', 'sessions')
      }
      if (record === null || record === undefined || !(record.expiresAt > clock())) {
        throw new SessionInvalidError()
      }
      if (record.userActive === false) throw new UserInactiveError()
      const context: AuthContext = Object.freeze({
        sub: record.userId,
        claims: Object.freeze({ sub: record.userId, sid: sessionId }),
        permissions: checkedPermissions(record.permissions, undefined, 'The session store')
          .permissions,
        expiresAt: Math.floor(record.expiresAt / 1000),
      })
      const result = await resolvePermissions(context)
      try {
        const touched = store.touch?.(sessionId)
        if (isPromise(touched)) touched.catch(() => {}) // activity tracking never fails a request
      } catch {}
      return result
    },
  }
}
