/**
 * Compiles the measured processes to plain JavaScript before a run: the HTTP server, the micro
 * harness, the memory child and the introspection children, with AuthFramework (from its TypeScript sources) bundled in. The
 * frameworks and peers stay external and load from node_modules exactly as published.
 *
 * Why: under tsx, every function literal of ours is wrapped in a `__name` helper and modules go
 * through loader hooks, costs that the peers (plain JavaScript) never pay and users of the built
 * package never see.
 */
import { readFileSync, rmSync } from 'node:fs'
import { isBuiltin } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { build, type Plugin } from 'esbuild'

const BENCH_DIR = join(dirname(fileURLToPath(import.meta.url)), '..')
export const BUNDLE_DIR = join(BENCH_DIR, '.cache', 'dist')

export interface Bundles {
  readonly server: URL
  readonly micro: URL
  readonly memory: URL
  readonly introspection: URL
  readonly instructions: URL
  readonly instructionsHttp: URL
  readonly inMemory: URL
}

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
    entryPoints: {
      server: join(BENCH_DIR, 'src/http/server.ts'),
      micro: join(BENCH_DIR, 'src/micro-child.ts'),
      memory: join(BENCH_DIR, 'src/memory-child.ts'),
      introspection: join(BENCH_DIR, 'src/introspection/child.ts'),
      instructions: join(BENCH_DIR, 'src/instructions/child.ts'),
      instructionsHttp: join(BENCH_DIR, 'src/instructions/http-child.ts'),
      inMemory: join(BENCH_DIR, 'src/http/in-memory-child.ts'),
    },
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
  return {
    server: url('server'),
    micro: url('micro'),
    memory: url('memory'),
    introspection: url('introspection'),
    instructions: url('instructions'),
    instructionsHttp: url('instructionsHttp'),
    inMemory: url('inMemory'),
  }
}
