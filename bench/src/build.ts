/**
 * Compiles the measured processes to plain JavaScript before a run, AuthFramework bundled in from
 * its TypeScript sources; frameworks and peers stay external, loaded as published. Under tsx ours
 * would pay for loader hooks and a `__name` wrapper per function that the peers and the users of
 * the built package never pay.
 */
import { readFileSync, rmSync } from 'node:fs'
import { isBuiltin } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { build, type Plugin } from 'esbuild'

const BENCH_DIR = join(dirname(fileURLToPath(import.meta.url)), '..')
export const BUNDLE_DIR = join(BENCH_DIR, '.cache', 'dist')

const ENTRIES = {
  micro: 'src/micro-groups.ts',
  server: 'src/http/server.ts',
  inMemory: 'src/http/in-memory-child.ts',
  memory: 'src/memory-child.ts',
  login: 'src/login/child.ts',
} as const

export type Bundles = Record<keyof typeof ENTRIES, URL>

const SKIP = Symbol('resolve without this plugin')

/** The package name of a bare specifier: `@scope/name/sub` -> `@scope/name`. */
function packageName(specifier: string): string {
  const parts = specifier.split('/')
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] as string)
}

/**
 * Compiles only the bench's own sources and the @authframework packages. Every other package
 * stays an import: the bench's own dependencies (frameworks, peers) by name, so they load from
 * bench/node_modules as published; the packages' dependencies (which may be native, like an argon2
 * binding) by their absolute path as esbuild resolves it from the importing package, so each
 * package gets the copy it depends on.
 */
function compileOursOnly(benchDeps: ReadonlySet<string>): Plugin {
  return {
    name: 'compile-ours-only',
    setup(b) {
      b.onResolve({ filter: /^[^./]/ }, async (args) => {
        if (args.pluginData === SKIP) return undefined
        if (isBuiltin(args.path)) return { path: args.path, external: true }
        const name = packageName(args.path)
        if (name.startsWith('@authframework/')) return undefined
        if (benchDeps.has(name)) return { path: args.path, external: true }
        const resolved = await b.resolve(args.path, {
          kind: args.kind,
          resolveDir: args.resolveDir,
          pluginData: SKIP,
        })
        // Unresolvable (an optional peer that is not installed): leave it to fail at run time, if ever used.
        if (resolved.errors.length > 0) return { path: args.path, external: true }
        return { path: resolved.path, external: true }
      })
    },
  }
}

/** Builds the bundles into bench/.cache/dist (≈ 0.2 s) and returns their URLs. */
export async function buildBundles(): Promise<Bundles> {
  const pkg = JSON.parse(readFileSync(join(BENCH_DIR, 'package.json'), 'utf8')) as {
    dependencies: Record<string, string>
  }
  const benchDeps = new Set(Object.keys(pkg.dependencies))
  rmSync(BUNDLE_DIR, { recursive: true, force: true })
  await build({
    entryPoints: Object.fromEntries(
      Object.entries(ENTRIES).map(([name, file]) => [name, join(BENCH_DIR, file)]),
    ),
    outdir: BUNDLE_DIR,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    plugins: [compileOursOnly(benchDeps)],
    keepNames: false,
    minify: false,
    sourcemap: 'linked',
    logLevel: 'warning',
    // Code compiled in may still call require().
    banner: {
      js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
    },
  })
  const url = (name: string) => pathToFileURL(join(BUNDLE_DIR, `${name}.mjs`))
  return Object.fromEntries(Object.keys(ENTRIES).map((name) => [name, url(name)])) as Bundles
}
