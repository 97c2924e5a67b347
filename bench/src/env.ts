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
  /** 1-, 5- and 15-minute load averages at the start: other work on the machine skews everything. */
  readonly loadAverage: readonly number[]
}

const LIBRARIES = [
  ...['@authframework/core', '@authframework/express', '@authframework/koa'],
  ...['@authframework/fastify', 'express', 'koa', 'fastify', 'jose', 'fast-jwt', 'jsonwebtoken'],
  ...['express-jwt', 'koa-jwt', '@fastify/jwt', 'lru-cache', 'autocannon'],
]

const require = createRequire(import.meta.url)

/** Walks up from the resolved entry to the package's own package.json (exports maps may hide it). */
function versionOf(name: string): string {
  try {
    let dir = dirname(require.resolve(name))
    for (let i = 0; i < 6; i++, dir = dirname(dir)) {
      try {
        const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'))
        if (pkg.name === name && pkg.version) return pkg.version
      } catch {
        // not here; go up
      }
    }
  } catch {
    // not installed
  }
  return 'not installed'
}

export function describeEnvironment(): Environment {
  return {
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
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
