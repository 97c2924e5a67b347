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
 * `{"p":[...],"r":[...]}` or `null`; with `version` (the change log's, from before the record was
 * read), `{"p":[...],"r":[...],"v":N}` or `{"v":N}`.
 */
export function encodeRecord(record: PermissionRecord | null, version?: number): string {
  if (record === null) return version === undefined ? 'null' : `{"v":${version}}`
  const fields: { p: readonly string[]; r?: readonly string[]; v?: number } = {
    p: record.permissions,
  }
  if (record.roles !== undefined) fields.r = record.roles
  if (version !== undefined) fields.v = version
  return JSON.stringify(fields)
}

/** A decoded shared-cache entry: the record and its change-log version (0 when it has none). */
export interface StampedRecord {
  readonly value: PermissionRecord | null
  readonly version: number
}

/**
 * Parses what {@link encodeRecord} wrote. Returns `undefined` for anything else (a malformed or
 * foreign value is a cache miss, never a crash and never a grant).
 */
export function decodeRecord(text: string): StampedRecord | undefined {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    return undefined
  }
  if (parsed === null) return { value: null, version: 0 }
  if (typeof parsed !== 'object' || Array.isArray(parsed)) return undefined
  const { p, r, v } = parsed as { p?: unknown; r?: unknown; v?: unknown }
  if (v !== undefined && (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)) {
    return undefined
  }
  const version = v ?? 0
  if (p === undefined && r === undefined && v !== undefined) return { value: null, version }
  const value = toPermissionRecord(
    r === undefined ? { permissions: p } : { permissions: p, roles: r },
  )
  return value === undefined ? undefined : { value, version }
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
