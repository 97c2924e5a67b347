import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { OPTION_NAMES } from '../src/index.js'

/** The configuration reference, found from this file (packages/core/test → docs/). */
const REFERENCE = new URL('../../../docs/configuration.md', import.meta.url)

/** Every `### heading` of a Markdown text, outside fenced code blocks, in order. */
function level3Headings(markdown: string): string[] {
  const headings: string[] = []
  let fence: string | undefined
  for (const line of markdown.split(/\r?\n/)) {
    const marker = /^\s*(`{3,}|~{3,})/.exec(line)?.[1]
    if (marker !== undefined) {
      if (fence === undefined) fence = marker[0]
      else if (marker[0] === fence) fence = undefined
      continue
    }
    if (fence !== undefined) continue
    const heading = /^### +(.*?)\s*#*\s*$/.exec(line)
    if (heading !== null) headings.push(heading[1]!)
  }
  return headings
}

describe('docs/configuration.md', () => {
  const headings = level3Headings(readFileSync(REFERENCE, 'utf8'))

  it('has a `### <name>` section for every createAuth option', () => {
    const missing = OPTION_NAMES.filter((name) => !headings.includes(name))
    expect(missing, 'options without a section in docs/configuration.md').toEqual([])
  })

  it('has no `###` section that is not a createAuth option', () => {
    const known = new Set<string>(OPTION_NAMES)
    const extra = headings.filter((heading) => !known.has(heading))
    expect(extra, '### headings that are not in OPTION_NAMES').toEqual([])
  })

  it('documents each option once', () => {
    const repeated = headings.filter((heading, i) => headings.indexOf(heading) !== i)
    expect(repeated, 'options documented more than once').toEqual([])
  })

  it('finds headings the way the check above relies on', () => {
    expect(
      level3Headings(
        ['### a', '```ts', '### not-a-heading', '```', '#### b', '##c', '### d ##'].join('\n'),
      ),
    ).toEqual(['a', 'd'])
  })
})
