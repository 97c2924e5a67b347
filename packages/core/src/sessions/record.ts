/**
 * Session records as the session store hands them out (frozen) and keeps them in shared caches.
 * A destroyed session is a tombstone (`null`). A record carries when the database last confirmed
 * it (and its user) active, so that no cache serves it for longer than the store's
 * `revalidateSeconds` without asking again.
 */
import type { SessionRecord } from '../types.js'

/** A live session: what `create` returns and `get` answers. Times are milliseconds since the epoch. */
export interface Session extends SessionRecord {
  /** 256-bit random, base64url (43 characters): the cookie value. */
  readonly id: string
  readonly userId: string
  readonly createdAt: number
  readonly expiresAt: number
  /** When the database last confirmed the session and its user (0: never; to be confirmed). */
  readonly checkedAt: number
  /** Whether the session's user is active (the database's answer at `checkedAt`). */
  readonly userActive: boolean
}

/** Session ids are 43 base64url characters (32 random bytes); anything else is no session of ours. */
const SESSION_ID = /^[A-Za-z0-9_-]{43}$/

/** True for a string shaped like a session id; checked before any lookup. */
export function isSessionId(id: unknown): id is string {
  return typeof id === 'string' && SESSION_ID.test(id)
}

const isTime = (value: unknown): value is number =>
  typeof value === 'number' && Number.isFinite(value)

/**
 * Checks an untrusted value and returns a frozen {@link Session}, or `undefined`. A missing
 * `checkedAt` is 0 (confirmed never: the store asks the database before serving it); a missing
 * `userActive` is true.
 */
export function toSession(value: unknown): Session | undefined {
  if (typeof value !== 'object' || value === null) return undefined
  const {
    id,
    userId,
    createdAt,
    expiresAt,
    checkedAt = 0,
    userActive = true,
  } = value as Record<string, unknown>
  if (!isSessionId(id) || typeof userId !== 'string' || userId === '') return undefined
  if (!isTime(createdAt) || !isTime(expiresAt) || !isTime(checkedAt)) return undefined
  if (typeof userActive !== 'boolean') return undefined
  return Object.freeze({ id, userId, createdAt, expiresAt, checkedAt, userActive })
}

/**
 * Compact JSON for Redis: `{"i","u","c","e","k","a"}` (and `"v"`, the change log's version from
 * before the session was read, when given), or `null` for a destroyed or unknown session.
 */
export function encodeSession(session: Session | null, version?: number): string {
  if (session === null) return 'null'
  return JSON.stringify({
    i: session.id,
    u: session.userId,
    c: session.createdAt,
    e: session.expiresAt,
    k: session.checkedAt,
    a: session.userActive,
    ...(version === undefined ? {} : { v: version }),
  })
}

/** A decoded Redis copy: the session (or a tombstone) and its change-log version (0: none). */
export interface StampedSession {
  readonly value: Session | null
  readonly version: number
}

/** Parses what {@link encodeSession} wrote; anything else is `undefined` (a miss, never a session). */
export function decodeSession(text: string): StampedSession | undefined {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    return undefined
  }
  if (parsed === null) return { value: null, version: 0 }
  if (typeof parsed !== 'object') return undefined
  const { i, u, c, e, k, a, v = 0 } = parsed as Record<string, unknown>
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) return undefined
  const value = toSession({
    id: i,
    userId: u,
    createdAt: c,
    expiresAt: e,
    checkedAt: k,
    userActive: a,
  })
  return value === undefined ? undefined : { value, version: v }
}
