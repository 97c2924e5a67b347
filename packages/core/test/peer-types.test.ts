/**
 * No source file imports the types of an optional peer: the published declarations must type-check
 * for a user who installed none of them (`skipLibCheck: false`). What the core takes from them is
 * described in src/peer-types.ts; scripts/packed-install.sh checks the built declarations.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const SRC = fileURLToPath(new URL('../src', import.meta.url))
const PEERS = ['ioredis', 'pg', 'pg-pool', 'prom-client', '@node-rs/argon2']

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? sources(join(dir, entry.name))
      : entry.name.endsWith('.ts')
        ? [join(dir, entry.name)]
        : [],
  )
}

describe('optional peers', () => {
  it('no module imports from them at the top level (types included)', () => {
    const found: string[] = []
    for (const file of sources(SRC)) {
      const text = readFileSync(file, 'utf8')
      for (const peer of PEERS) {
        const escaped = peer.replace(/[/.-]/g, '\\$&')
        if (new RegExp(`^(import|export)[^\\n]*from '${escaped}'`, 'm').test(text)) {
          found.push(`${file.slice(SRC.length + 1)}: ${peer}`)
        }
      }
    }
    expect(found).toEqual([])
  })
})
