/**
 * The import graph: adapters reach the core only through its public entry, and the core imports
 * no web framework. Read from the source files, so a new file or package is covered as it lands.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const PACKAGES = resolve(dirname(fileURLToPath(import.meta.url)), '../packages')
const CORE_SRC = join(PACKAGES, 'core/src')

/** Web frameworks and their plugin scopes: none may be imported by the core. */
const FRAMEWORK =
  /^(express|koa|fastify|hono|next|@hapi\/|@nestjs\/|@fastify\/|@koa\/|koa-|fastify-|express-)/

/** Every module specifier of a TypeScript source: static and dynamic imports, re-exports. */
export function specifiersOf(source: string): string[] {
  const found: string[] = []
  const patterns = [
    /\b(?:import|export)\s[^'"`;]*?\bfrom\s*['"]([^'"]+)['"]/g,
    /\bimport\s*['"]([^'"]+)['"]/g,
    /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
    /\brequire\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
  ]
  for (const pattern of patterns) {
    for (const match of source.matchAll(pattern)) found.push(match[1]!)
  }
  return found
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && /\.(c|m)?tsx?$/.test(entry.name))
    .map((entry) => join(entry.parentPath, entry.name))
}

/** The problems with one adapter file's imports (empty when it keeps to the public entry). */
export function adapterProblems(
  file: string,
  specifiers: readonly string[],
  src: string,
): string[] {
  const problems: string[] = []
  for (const specifier of specifiers) {
    if (specifier.startsWith('.')) {
      const target = resolve(dirname(file), specifier)
      if (relative(src, target).startsWith('..')) problems.push(`${specifier} leaves the package`)
    } else if (specifier.startsWith('@authframework/') && specifier !== '@authframework/core') {
      problems.push(`${specifier} is not the core's public entry`)
    }
  }
  return problems
}

/** The problems with one core file's imports (empty when it imports no framework). */
export function coreProblems(file: string, specifiers: readonly string[]): string[] {
  const problems: string[] = []
  for (const specifier of specifiers) {
    if (FRAMEWORK.test(specifier)) problems.push(`${specifier} is a web framework`)
    if (specifier.startsWith('@authframework/')) problems.push(`${specifier} is a package above`)
    if (
      specifier.startsWith('.') &&
      relative(CORE_SRC, resolve(dirname(file), specifier)).startsWith('..')
    ) {
      problems.push(`${specifier} leaves the core`)
    }
  }
  return problems
}

const adapters = readdirSync(PACKAGES).filter((name) => name !== 'core' && name !== 'cli')

describe('the import graph', () => {
  it('finds the adapters and their sources', () => {
    expect(adapters).toEqual(
      expect.arrayContaining(['express', 'fastify', 'hono', 'koa', 'nestjs']),
    )
  })

  it.each([...adapters, 'cli'])('%s imports the core only through @authframework/core', (name) => {
    const src = join(PACKAGES, name, 'src')
    const files = sourceFiles(src)
    expect(files.length).toBeGreaterThan(0)
    const problems = files.flatMap((file) =>
      adapterProblems(file, specifiersOf(readFileSync(file, 'utf8')), src).map(
        (p) => `${relative(PACKAGES, file)}: ${p}`,
      ),
    )
    expect(problems).toEqual([])
  })

  it('keeps the core free of framework imports', () => {
    const files = sourceFiles(CORE_SRC)
    expect(files.length).toBeGreaterThan(50)
    const problems = files.flatMap((file) =>
      coreProblems(file, specifiersOf(readFileSync(file, 'utf8'))).map(
        (p) => `${relative(PACKAGES, file)}: ${p}`,
      ),
    )
    expect(problems).toEqual([])
  })

  it('would see the imports it forbids', () => {
    const source = [
      "import { a } from '@authframework/core/src/adapter.js'",
      "import type { B } from '../../core/src/types.js'",
      "export { c } from 'express'",
      "const d = await import('fastify-plugin')",
      "import 'koa'",
      "import { Hono } from 'hono'",
      "import { Injectable } from '@nestjs/common'",
    ].join('\n')
    const specifiers = specifiersOf(source)
    expect(specifiers).toEqual(
      expect.arrayContaining([
        '@authframework/core/src/adapter.js',
        '../../core/src/types.js',
        'express',
        'fastify-plugin',
        'koa',
        'hono',
        '@nestjs/common',
      ]),
    )
    const file = join(PACKAGES, 'express/src/index.ts')
    expect(adapterProblems(file, specifiers, join(PACKAGES, 'express/src'))).toHaveLength(2)
    expect(coreProblems(join(CORE_SRC, 'x.ts'), specifiers)).toHaveLength(6)
  })
})
