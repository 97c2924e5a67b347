import { describe, expect, it } from 'vitest'
import { encodeKeyPart } from '../../../src/permissions/store/index.js'
import {
  decodeRecord,
  encodeRecord,
  isStorableId,
  toPermissionRecord,
} from '../../../src/permissions/store/record.js'

describe('permission records', () => {
  it('round-trips through compact JSON', () => {
    const record = toPermissionRecord({ permissions: ['orders:read'], roles: ['clerk'] })!
    expect(encodeRecord(record)).toBe('{"p":["orders:read"],"r":["clerk"]}')
    expect(decodeRecord(encodeRecord(record))).toEqual({ value: record, version: 0 })
    expect(encodeRecord(null)).toBe('null')
    expect(decodeRecord('null')).toEqual({ value: null, version: 0 })
    expect(decodeRecord('{"p":[]}')).toEqual({ value: { permissions: [] }, version: 0 })
  })

  it('carries the change-log version it was read at, records and unknown users alike', () => {
    const record = toPermissionRecord({ permissions: ['orders:read'] })!
    expect(encodeRecord(record, 42)).toBe('{"p":["orders:read"],"v":42}')
    expect(decodeRecord(encodeRecord(record, 42))).toEqual({ value: record, version: 42 })
    expect(encodeRecord(null, 7)).toBe('{"v":7}')
    expect(decodeRecord('{"v":7}')).toEqual({ value: null, version: 7 })
    for (const raw of ['{"v":-1}', '{"v":1.5}', '{"v":"3"}', '{"p":[],"v":null}']) {
      expect(decodeRecord(raw), raw).toBeUndefined()
    }
  })

  it('treats malformed values as a miss, never as a grant', () => {
    for (const raw of [
      '',
      '{',
      '[]',
      '"x"',
      '1',
      '{"p":"*"}',
      '{"p":[1]}',
      '{"p":["a"],"r":[null]}',
      '{}',
    ]) {
      expect(decodeRecord(raw), raw).toBeUndefined()
    }
  })

  it('freezes records so a cached one cannot be changed by a caller', () => {
    const record = toPermissionRecord({ permissions: ['a'], roles: [] })!
    expect(Object.isFrozen(record)).toBe(true)
    expect(Object.isFrozen(record.permissions)).toBe(true)
    expect(() => (record.permissions as string[]).push('*')).toThrow(TypeError)
  })

  it('encodes ids into keys without collisions, globs or separators', () => {
    const ids = [
      '*',
      'a*',
      'a',
      'a:b',
      'a\r\nDEL x',
      '"\'',
      ' ',
      '',
      'ü',
      'u\u0308',
      '😀',
      'x'.repeat(300),
    ]
    const parts = ids.map(encodeKeyPart)
    expect(new Set(parts).size).toBe(ids.length)
    for (const part of parts) expect(part).toMatch(/^[A-Za-z0-9_-]*$/)
  })

  it('refuses ids that cannot be stored without loss', () => {
    expect(isStorableId('user-42')).toBe(true)
    expect(isStorableId('😀')).toBe(true)
    expect(isStorableId('\uD800')).toBe(false) // lone surrogate: UTF-8 would turn it into U+FFFD
    expect(isStorableId('a\0b')).toBe(false)
  })
})
