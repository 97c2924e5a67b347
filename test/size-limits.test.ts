import { describe, expect, it } from 'vitest'
import {
  ALLOWED,
  MAX_FILE_LINES,
  MAX_FUNCTION_LINES,
  measure,
  measureSource,
  violations,
} from '../scripts/size-limits.js'

describe('size limits of packages/*/src', () => {
  const files = measure()

  it(`no file over ${MAX_FILE_LINES} lines and no function over ${MAX_FUNCTION_LINES}`, () => {
    const over = files.filter((file) => !ALLOWED.has(file.path)).flatMap(violations)
    expect(over, 'split these by job (scripts/size-limits.ts reports the rest)').toEqual([])
  })

  it('reports the allowed files that are still over a limit', () => {
    const allowed = files.filter((file) => ALLOWED.has(file.path)).flatMap(violations)
    if (allowed.length > 0) console.info(`Allowed for now:\n  ${allowed.join('\n  ')}`)
    for (const path of ALLOWED) expect(files.map((file) => file.path)).toContain(path)
  })

  it('measures a factory closure as one function, inner functions included', () => {
    const text = [
      'export function createX() {', // 1
      '  function inner() {', // 2
      '    return 1', // 3
      '  }', // 4
      '  const arrow = () => inner()', // 5
      '  return { get: () => arrow(), method() { return 2 } }', // 6
      '}', // 7
      '',
    ].join('\n')
    const size = measureSource('x.ts', text)
    expect(size.lines).toBe(7)
    expect(size.functions[0]).toEqual({ name: 'createX', line: 1, lines: 7 })
    expect(size.functions.map((fn) => fn.name).sort()).toEqual(
      ['arrow', 'createX', 'get', 'inner', 'method'].sort(),
    )
  })
})
