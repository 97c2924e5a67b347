/**
 * Size limits of the packages' source (`packages/*\/src`): no file over {@link MAX_FILE_LINES}
 * lines, no function over {@link MAX_FUNCTION_LINES}. A function is measured from its first to its
 * last line, everything inside it included, so a long `createX` factory closure counts as one
 * function. Run `pnpm exec tsx scripts/size-limits.ts` for the report; `test/size-limits.test.ts`
 * fails on any file over a limit that is not in {@link ALLOWED}.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join, relative, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'

export const MAX_FILE_LINES = 350
export const MAX_FUNCTION_LINES = 120

/**
 * Files over a limit that the size test reports but does not fail on. Empty: every file is within
 * the limits; an entry needs a reason and leaves once its file is split.
 */
export const ALLOWED: ReadonlySet<string> = new Set<string>([])

export interface FunctionSize {
  /** The function's name as written (`createAuth`, `object.method`, `<anonymous>`). */
  readonly name: string
  /** 1-based line of its first line. */
  readonly line: number
  readonly lines: number
}

export interface FileSize {
  /** Relative to the repository root, with `/`. */
  readonly path: string
  readonly lines: number
  /** Every function in the file, longest first. */
  readonly functions: readonly FunctionSize[]
}

export const ROOT = fileURLToPath(new URL('..', import.meta.url))

/** Every `.ts` file under `packages/*\/src`, relative to `root`, sorted. */
export function sourceFiles(root = ROOT): string[] {
  const files: string[] = []
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name)
      if (entry.isDirectory()) walk(path)
      else if (entry.name.endsWith('.ts')) files.push(relative(root, path).split(sep).join('/'))
    }
  }
  const packages = join(root, 'packages')
  for (const entry of readdirSync(packages, { withFileTypes: true })) {
    const src = join(packages, entry.name, 'src')
    if (entry.isDirectory() && safeIsDirectory(src)) walk(src)
  }
  return files.sort()
}

function safeIsDirectory(path: string): boolean {
  try {
    readdirSync(path)
    return true
  } catch {
    return false
  }
}

function nameOf(node: ts.Node, source: ts.SourceFile): string {
  const named = node as ts.Node & { name?: ts.Node }
  if (named.name !== undefined) return named.name.getText(source)
  const parent = node.parent
  if (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent)) {
    return parent.name.getText(source)
  }
  return '<anonymous>'
}

/** The lines of a file and of every function in it (declarations, expressions, arrows, methods, accessors). */
export function measureSource(path: string, text: string): FileSize {
  const source = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true)
  const functions: FunctionSize[] = []
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body !== undefined) {
      const start = source.getLineAndCharacterOfPosition(node.getStart(source)).line
      const end = source.getLineAndCharacterOfPosition(node.getEnd()).line
      functions.push({ name: nameOf(node, source), line: start + 1, lines: end - start + 1 })
    }
    ts.forEachChild(node, visit)
  }
  visit(source)
  functions.sort((a, b) => b.lines - a.lines)
  const lines = text.endsWith('\n') ? text.split('\n').length - 1 : text.split('\n').length
  return { path, lines, functions }
}

/** Measures every source file under `packages/*\/src`. */
export function measure(root = ROOT): FileSize[] {
  return sourceFiles(root).map((path) =>
    measureSource(path, readFileSync(join(root, path), 'utf8')),
  )
}

/** What is over a limit in one file, as report lines (none when the file is within both). */
export function violations(file: FileSize): string[] {
  const out: string[] = []
  if (file.lines > MAX_FILE_LINES) out.push(`${file.path}: ${file.lines} lines`)
  for (const fn of file.functions) {
    if (fn.lines > MAX_FUNCTION_LINES) {
      out.push(`${file.path}:${fn.line} ${fn.name}: ${fn.lines} lines`)
    }
  }
  return out
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const files = measure()
  const top = (n: number) => Number(process.argv[2] ?? n)
  console.log(`Largest files (limit ${MAX_FILE_LINES} lines):`)
  for (const file of [...files].sort((a, b) => b.lines - a.lines).slice(0, top(15))) {
    console.log(`  ${String(file.lines).padStart(5)}  ${file.path}`)
  }
  console.log(`Longest functions (limit ${MAX_FUNCTION_LINES} lines):`)
  const functions = files.flatMap((file) =>
    file.functions.map((fn) => ({ ...fn, path: file.path })),
  )
  for (const fn of functions.sort((a, b) => b.lines - a.lines).slice(0, top(15))) {
    console.log(`  ${String(fn.lines).padStart(5)}  ${fn.path}:${fn.line} ${fn.name}`)
  }
  const over = files.flatMap((file) => violations(file).map((v) => ({ v, file: file.path })))
  for (const { v, file } of over) console.log(`${ALLOWED.has(file) ? 'allowed' : 'OVER'}: ${v}`)
  process.exitCode = over.some(({ file }) => !ALLOWED.has(file)) ? 1 : 0
}
