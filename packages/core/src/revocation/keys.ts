/**
 * What a revocation is keyed on, in PostgreSQL (`tokens.token_hash`), in Redis and on the pub/sub
 * channel; and the checked wire form of an entry. A token is represented by the hash of its
 * canonical form only; a `jti` and a `sub` are hashed for keys so that any value has a short,
 * pattern-free key.
 */
import { cacheKey, SUBJECT_IDENTITY } from '../cache/verification-cache.js'
import { signingInput } from '../token/compact.js'
import type { RevocationEntry, RevocationSubject } from '../types.js'

/** SHA-256 (base64url) of a string: the key part of a `jti` or a `sub`. */
export const hashPart: (value: string) => string = cacheKey

/**
 * The token hash of a canonical compact JWT: SHA-256 of its JWS Signing Input (see
 * `RevocationSubject.tokenHash`), the same for every valid signature of it.
 */
export function tokenHashOf(jwt: string): string {
  return hashPart(signingInput(jwt))
}

/** `tokens.token_hash` of an entry: the token hash itself, `jti:<hash>` or `sub:<hash>`. */
export function rowKey(entry: RevocationEntry): string {
  if (entry.kind === 'token') return entry.tokenHash
  if (entry.kind === 'jti') return `jti:${hashPart(entry.jti)}`
  return `sub:${hashPart(entry.sub)}`
}

/** The three row keys that can revoke a verified token (`jti` and `sub` ones only when present). */
export interface SubjectKeys {
  readonly token: string
  readonly jti: string | undefined
  readonly sub: string
}

const memo = new WeakMap<object, SubjectKeys>()

/**
 * Row keys of a token's revocation subject; memoised per cached token (the subject's
 * `SUBJECT_IDENTITY`, or the subject itself when it has none).
 */
export function subjectKeys(subject: RevocationSubject): SubjectKeys {
  const identity = (subject as { [SUBJECT_IDENTITY]?: object })[SUBJECT_IDENTITY] ?? subject
  let keys = memo.get(identity)
  if (keys === undefined) {
    keys = {
      token: subject.tokenHash,
      jti: subject.jti === undefined ? undefined : `jti:${hashPart(subject.jti)}`,
      sub: `sub:${hashPart(subject.sub)}`,
    }
    memo.set(identity, keys)
  }
  return keys
}

const MAX_ID_LENGTH = 8192
const TOKEN_HASH = /^[A-Za-z0-9_-]{43}$/

function isId(value: unknown): value is string {
  return typeof value === 'string' && value !== '' && value.length <= MAX_ID_LENGTH
}

function isTime(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value)
}

/**
 * Checks an entry from a caller or the network and returns a frozen copy, or `undefined` when it is
 * not a well-formed {@link RevocationEntry}.
 */
export function checkEntry(value: unknown): RevocationEntry | undefined {
  if (typeof value !== 'object' || value === null) return undefined
  const e = value as Record<string, unknown>
  if (!isTime(e.expiresAt)) return undefined
  if (e.kind === 'token') {
    if (typeof e.tokenHash !== 'string' || !TOKEN_HASH.test(e.tokenHash)) return undefined
    if (e.sub !== undefined && !isId(e.sub)) return undefined
    return Object.freeze({
      kind: 'token',
      tokenHash: e.tokenHash,
      expiresAt: e.expiresAt,
      ...(e.sub === undefined ? {} : { sub: e.sub }),
    })
  }
  if (e.kind === 'jti') {
    if (!isId(e.jti)) return undefined
    return Object.freeze({ kind: 'jti', jti: e.jti, expiresAt: e.expiresAt })
  }
  if (e.kind === 'subject') {
    if (!isId(e.sub) || !isTime(e.before)) return undefined
    return Object.freeze({ kind: 'subject', sub: e.sub, before: e.before, expiresAt: e.expiresAt })
  }
  return undefined
}

/** The pub/sub message of an entry (JSON; it carries hashes and identifiers, never a token). */
export function encodeEntry(entry: RevocationEntry): string {
  return JSON.stringify(entry)
}

/** Parses a pub/sub message; anything malformed is `undefined` (ignored, never applied half-way). */
export function decodeEntry(text: string): RevocationEntry | undefined {
  if (text.length > 2 * MAX_ID_LENGTH + 256) return undefined
  try {
    return checkEntry(JSON.parse(text))
  } catch {
    return undefined
  }
}
