/**
 * Summarises V8 `.cpuprofile` files (from `pnpm bench --only http --profile`): self time per
 * function and per package, so that "where does the time go" has a plain-text answer.
 *
 *   tsx src/profile-summary.ts results/profiles/fastify-ours-*.cpuprofile [--top 25]
 */
import { readFileSync } from 'node:fs'
import { basename } from 'node:path'
import { parseArgs } from 'node:util'

interface ProfileNode {
  readonly id: number
  readonly callFrame: {
    readonly functionName: string
    readonly url: string
    readonly lineNumber: number
  }
  readonly children?: readonly number[]
}

interface Profile {
  readonly nodes: readonly ProfileNode[]
  readonly samples: readonly number[]
  readonly timeDeltas: readonly number[]
}

/** Which package (or "node:internal", "(gc)", ...) a frame belongs to. */
export function packageOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)'
  const pnpm = url.match(/node_modules\/\.pnpm\/[^/]+\/node_modules\/((?:@[^/]+\/)?[^/]+)/)
  if (pnpm?.[1]) return pnpm[1]
  const nm = url.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/)
  if (nm?.[1]) return nm[1]
  const ours = url.match(/packages\/([^/]+)\/src\//)
  if (ours?.[1]) return `@authframework/${ours[1]}`
  if (url.startsWith('node:')) return 'node:internal'
  if (url.includes('/bench/src/')) return 'bench'
  return url
}

/** Self time per function and per package, in ms, largest first. */
export function summarise(profile: Profile) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const self = new Map<number, number>()
  profile.samples.forEach((id, i) => {
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0))
  })
  const fn = new Map<string, number>()
  const pkg = new Map<string, number>()
  let total = 0
  for (const [id, us] of self) {
    const node = byId.get(id)
    if (!node) continue
    const { functionName, url, lineNumber } = node.callFrame
    const p = packageOf(url, functionName)
    const where = url ? `${basename(url)}:${lineNumber + 1}` : ''
    const key = `${functionName || '(anonymous)'} ${where} [${p}]`
    fn.set(key, (fn.get(key) ?? 0) + us)
    pkg.set(p, (pkg.get(p) ?? 0) + us)
    total += us
  }
  const sort = (m: Map<string, number>) =>
    [...m].sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, v / 1000] as const)
  return { totalMs: total / 1000, functions: sort(fn), packages: sort(pkg) }
}

function main(): void {
  const { values, positionals } = parseArgs({
    options: { top: { type: 'string', default: '25' } },
    allowPositionals: true,
  })
  const top = Number(values.top)
  for (const file of positionals) {
    const s = summarise(JSON.parse(readFileSync(file, 'utf8')) as Profile)
    const idle = s.functions.find(([k]) => k.startsWith('(idle)'))?.[1] ?? 0
    const busy = s.totalMs - idle
    process.stdout.write(
      `\n${basename(file)}: ${s.totalMs.toFixed(0)} ms sampled, ${busy.toFixed(0)} ms busy\n`,
    )
    process.stdout.write('  by package (self time, % of busy)\n')
    for (const [k, ms] of s.packages.filter(([k]) => k !== '(idle)').slice(0, 12)) {
      process.stdout.write(`    ${((ms / busy) * 100).toFixed(1).padStart(5)} %  ${k}\n`)
    }
    process.stdout.write('  by function (self time, % of busy)\n')
    for (const [k, ms] of s.functions.filter(([k]) => !k.startsWith('(idle)')).slice(0, top)) {
      process.stdout.write(`    ${((ms / busy) * 100).toFixed(1).padStart(5)} %  ${k}\n`)
    }
  }
}

if (process.argv[1] && import.meta.url.endsWith(basename(process.argv[1]))) main()
