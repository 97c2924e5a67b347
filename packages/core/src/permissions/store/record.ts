/**
 * Permission records as the store hands them out (deeply frozen, so a cached record cannot be
 * changed by a caller), their validation, and their compact JSON form in shared caches.
 */
import type { PermissionRecord } from '../../types.js'

const EMPTY: readonly string[] = Object.freeze([])

function isStringArray(value: unknown): value is readonly string[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'string')
}

/**
 * Checks an untrusted value (a source's answer, a parsed cache entry) and returns a frozen copy of
 * it as a {@link PermissionRecord}, or `undefined` when it is not one. `roles` is kept only when
 * present.
 */
export function toPermissionRecord(value: unknown): PermissionRecord | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined
  const { permissions, roles } = value as { permissions?: unknown; roles?: unknown }
  if (!isStringArray(permissions)) return undefined
  if (roles !== undefined && !isStringArray(roles)) return undefined
  const record: { permissions: readonly string[]; roles?: readonly string[] } = {
    permissions: permissions.length === 0 ? EMPTY : Object.freeze([...permissions]),
  }
  if (roles !== undefined) record.roles = roles.length === 0 ? EMPTY : Object.freeze([...roles])
  return Object.freeze(record)
}

/**
 * Serializes a record (or `null`, "unknown or inactive") for a shared cache: compact JSON,
 * `{"p":[...],"r":[...]}` or `null`.
 */
export function encodeRecord(record: PermissionRecord | null): string {
  if (record === null) return 'null'
  return JSON.stringify(
    record.roles === undefined
      ? { p: record.permissions }
      : { p: record.permissions, r: record.roles },
  )
}

/**
 * Parses what {@link encodeRecord} wrote. Returns `undefined` for anything else (a malformed or
 * foreign value is a cache miss, never a crash and never a grant).
 */
export function decodeRecord(text: string): PermissionRecord | null | undefined {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    return undefined
  }
  if (parsed === null) return null
  if (typeof parsed !== 'object' || Array.isArray(parsed)) return undefined
  const { p, r } = parsed as { p?: unknown; r?: unknown }
  return toPermissionRecord(r === undefined ? { permissions: p } : { permissions: p, roles: r })
}

// With the `u` flag a valid surrogate pair is one code point, so `\p{Cs}` only matches lone halves.
const LONE_SURROGATE_OR_NUL = /[\p{Cs}\0]/u

/**
 * True for ids that a cache key and a PostgreSQL `text` value can represent without loss: any
 * well-formed string without NUL. Others (a lone UTF-16 surrogate would turn into U+FFFD and could
 * alias another user; PostgreSQL rejects NUL) can belong to no user: the store answers `null`.
 */
export function isStorableId(id: string): boolean {
  return !LONE_SURROGATE_OR_NUL.test(id)
}
