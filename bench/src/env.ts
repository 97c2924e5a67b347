/** The machine and software a run happened on, for the report. */
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { availableParallelism, cpus, freemem, loadavg, totalmem } from 'node:os'
import { dirname, join } from 'node:path'

export interface Environment {
  readonly cpuModel: string
  readonly cores: number
  readonly totalMemBytes: number
  readonly freeMemBytes: number
  readonly platform: string
  readonly node: string
  readonly v8: string
  readonly openssl: string
  readonly libraries: Readonly<Record<string, string>>
  /** 1-, 5- and 15-minute load averages when the run started: other work on the machine skews everything. */
  readonly loadAverage: readonly number[]
}

/** Libraries whose versions the report states. */
export const LIBRARIES = [
  '@authframework/core',
  '@authframework/express',
  '@authframework/koa',
  '@authframework/fastify',
  'express',
  'koa',
  'fastify',
  'jose',
  'fast-jwt',
  'jsonwebtoken',
  'express-jwt',
  'koa-jwt',
  '@fastify/jwt',
  'lru-cache',
  'autocannon',
] as const

const require = createRequire(import.meta.url)

function versionOf(name: string): string {
  // Walk up from the resolved entry to the package's own package.json (exports maps may hide it).
  try {
    let dir = dirname(require.resolve(name))
    for (let i = 0; i < 6; i++) {
      try {
        const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
          name?: string
          version?: string
        }
        if (pkg.name === name && pkg.version) return pkg.version
      } catch {
        // not here; go up
      }
      dir = dirname(dir)
    }
  } catch {
    // fall through
  }
  try {
    const here = dirname(new URL(import.meta.url).pathname)
    const pkg = JSON.parse(
      readFileSync(join(here, '..', 'node_modules', name, 'package.json'), 'utf8'),
    ) as {
      version?: string
    }
    return pkg.version ?? 'unknown'
  } catch {
    return 'not installed'
  }
}

/** Describes this machine and the installed library versions. */
export function describeEnvironment(): Environment {
  const list = cpus()
  return {
    cpuModel: list[0]?.model.trim() ?? 'unknown',
    cores: availableParallelism(),
    totalMemBytes: totalmem(),
    freeMemBytes: freemem(),
    platform: `${process.platform} ${process.arch}`,
    node: process.version,
    v8: process.versions.v8,
    openssl: process.versions.openssl ?? 'unknown',
    libraries: Object.fromEntries(LIBRARIES.map((name) => [name, versionOf(name)])),
    loadAverage: loadavg().map((l) => Math.round(l * 100) / 100),
  }
}
