/** Writes REPORT.md and its SVG charts from one run's results. It reports; the README's goals judge. */
import type { Environment } from './env.js'
import type { InMemoryResult, InMemorySample } from './http/in-memory-run.js'
import type { HttpResult, HttpSample } from './http/index.js'
import {
  FRAMEWORK_NAME,
  FRAMEWORKS,
  type Framework,
  VARIANTS,
  type VariantId,
  variantLabel,
} from './http/variants.js'
import type { LoginResult } from './login/index.js'
import type { MemoryResult } from './memory.js'
import type { GroupResult } from './micro.js'
import type { MicroResult } from './micro-groups.js'
import { loginSection } from './report-login.js'
import { fmt, fmtSigned, pairedDelta, pairedRatio, type Summary, summarize } from './stats.js'
import { type Bar, type BarChart, PALETTE, renderBarChart } from './svg.js'

export interface BenchResults {
  mode: 'full' | 'quick'
  command: string
  parts: readonly string[]
  /** Run with a subset of the frameworks. */
  partial: boolean
  startedAt: string
  seconds: number
  environment: Environment
  /** Parts (or variants) that needed Redis and PostgreSQL and could not run, with the reason. */
  notRun: Record<string, string>
  /** Tokens rotated in scenario (e). */
  poolSize: number
  micro?: MicroResult
  inMemory?: InMemoryResult
  http?: HttpResult
  login?: LoginResult
  memory?: MemoryResult
}

/** Column heads written as one string: 'a|b|c'. */
export const h = (heads: string) => heads.split('|')

export function table(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) =>
    `| ${cells.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`
  return [line(head), `|${head.map(() => '---').join('|')}|`, ...rows.map(line)].join('\n')
}

const whisker = (series: string, s: Summary): Bar => ({
  series,
  value: s.median,
  lo: s.min,
  hi: s.max,
})
const byName = (g: GroupResult, name: string) =>
  g.contenders.find((c) => c.name.startsWith(name) && !c.skipped)

/** In-memory or socket samples: CPU µs per request per round, framework and variant. */
type Timed = { rounds: number; samples: readonly (InMemorySample | HttpSample)[] } | undefined

/** One value per round for a (framework, variant): CPU µs per request (NaN where it failed). */
function series(r: Timed, f: Framework, v: VariantId): number[] {
  return Array.from({ length: r?.rounds ?? 0 }, (_, round) => {
    const s = r?.samples.find((x) => x.round === round && x.framework === f && x.variant === v)
    return s ? s.cpuUs : Number.NaN
  })
}

/** CPU per request, over bare, the share of bare's capacity kept, and the CPU ÷ ours', paired. */
function cell(r: Timed, f: Framework, v: VariantId) {
  const cpu = series(r, f, v)
  if (!cpu.some(Number.isFinite)) return undefined
  const bare = series(r, f, 'bare')
  const perOurs = pairedRatio(cpu, series(r, f, 'ours'))
  return {
    cpu: summarize(cpu),
    over: pairedDelta(cpu, bare),
    keeps: pairedRatio(bare, cpu),
    perOurs,
  }
}

function microSummary(micro: MicroResult): string {
  const rows = micro.groups.flatMap((g) => {
    const ours = g.contenders.find((c) => c.role === 'ours' && !c.skipped)
    const floor = byName(g, g.floor)
    const peer = byName(g, 'fast-jwt')
    if (!ours || !floor) return []
    const title = g.id === 'permissions' ? 'Permission store, memory hit' : g.title
    const vsPeer = peer ? fmt(pairedRatio(ours.rounds, peer.rounds), 2) : '—'
    return [[title, fmt(ours.us, 2), fmt(floor.us, 2), fmt(ours.vsFloor, 2), vsPeer]]
  })
  return table(
    h('hot path|ours, µs per call|floor, µs per call|ours ÷ floor|ours ÷ fast-jwt'),
    rows,
  )
}

function requestSummary(r: { inMemory?: InMemoryResult; http?: HttpResult }): string {
  const cols = (c: ReturnType<typeof cell>, v: VariantId) => {
    if (!c) return ['—', '—', '—', '']
    const over = v === 'bare' ? ['—', '—'] : [fmtSigned(c.over, 1), fmt(c.keeps, 2)]
    return [fmt(c.cpu, 1), ...over, v === 'peer' ? fmt(c.perOurs, 2) : '']
  }
  const rows = FRAMEWORKS.flatMap((f) =>
    VARIANTS.map((v) => [
      FRAMEWORK_NAME[f],
      variantLabel(f, v),
      ...cols(cell(r.inMemory, f, v), v),
      ...cols(cell(r.http, f, v), v),
    ]),
  ).filter((row) => row[2] !== '—' || row[6] !== '—')
  const heads = 'CPU µs/req|over bare|keeps × of bare|CPU ÷ ours'
  return table(h(`framework|variant|in memory: ${heads}|sockets: ${heads}`), rows)
}

function socketsTable(http: HttpResult): string {
  const rows = FRAMEWORKS.flatMap((f) =>
    VARIANTS.flatMap((v) => {
      const own = http.samples.filter((s) => s.framework === f && s.variant === v)
      const of = (pick: (s: HttpSample) => number, digits: number) =>
        fmt(summarize(own.map(pick)), digits)
      const { p50, p95, p99 } = {
        p50: of((s) => s.load.p50, 2),
        p95: of((s) => s.load.p95, 2),
        p99: of((s) => s.load.p99, 2),
      }
      const cells = [
        of((s) => s.load.reqPerSec, 0),
        p50,
        p95,
        p99,
        of((s) => s.rssBytes / 2 ** 20, 0),
      ]
      return own.length ? [[FRAMEWORK_NAME[f], variantLabel(f, v), ...cells]] : []
    }),
  )
  return table(h('framework|variant|req/s|p50 ms|p95 ms|p99 ms|RSS MiB'), rows)
}

function microDetail(micro: MicroResult): string {
  const body = (g: GroupResult) =>
    g.contenders.map((c) =>
      c.skipped
        ? [c.name, c.role, 'not timed', '', c.skipped]
        : [c.name, c.role, fmt(c.us, 2), (1e6 / c.us.median).toFixed(0), fmt(c.vsFloor, 2)],
    )
  const heads = (g: GroupResult) => ['contender', 'role', 'µs per call', 'calls/s', `× ${g.floor}`]
  return micro.groups
    .map((g) => `### ${g.title}\n\n${g.note}\n\n${table(heads(g), body(g))}\n`)
    .join('\n')
}

function memorySection(memory: MemoryResult): string {
  const per = (bytes: number) => (bytes / memory.entries).toFixed(0)
  const rows = memory.reports.map((r) => [
    r.subject,
    per(r.rssDeltaBytes),
    per(r.heapDeltaBytes),
    (r.rssAfterBytes / 2 ** 20).toFixed(0),
  ])
  return [
    `## Memory per cached verification, ${memory.entries.toLocaleString('en')} entries`,
    '',
    'One child process (`--expose-gc`) per cache fills it with distinct verified HS256 tokens (signed and dropped, so only what the cache keeps stays alive); the growth of RSS, and of V8 heap + external memory, over a baseline taken after warm-up and a full GC, divided by the entries. Floor: a SHA-256 key in an `lru-cache` holding the parsed claims.',
    '',
    table(h('cache|B of RSS per entry|B of heap per entry|RSS after, MiB'), rows),
    '',
  ].join('\n')
}

const COLORS = [PALETTE[5], PALETTE[0], PALETTE[1], PALETTE[2], PALETTE[4]] as string[]

function keepsChart(r: Timed, where: string): BarChart {
  const variants = VARIANTS.filter((v) => v !== 'bare')
  const name = (v: VariantId) => (v === 'peer' ? 'the peer' : variantLabel('fastify', v))
  return {
    title: `Share of bare’s capacity kept, ${where} (bare CPU µs/req ÷ variant CPU µs/req)`,
    subtitle: `Median of ${r?.rounds} rounds paired with bare; whiskers min–max. 1 = no cost at all.`,
    axisLabel: '× of bare (higher is better)',
    series: variants.map((v, i) => ({ name: name(v), color: COLORS[i] as string })),
    groups: FRAMEWORKS.map((f) => ({
      label: FRAMEWORK_NAME[f],
      bars: variants.flatMap((v) => {
        const c = cell(r, f, v)
        return c ? [whisker(name(v), c.keeps)] : []
      }),
    })).filter((g) => g.bars.length),
    refLines: [{ value: 1, label: 'bare' }],
    format: (x) => x.toFixed(2),
  }
}

function microChart(micro: MicroResult): BarChart {
  const names = ['ours', 'fast-jwt', 'jsonwebtoken', 'jose jwtVerify']
  const groups = micro.groups.filter((g) => g.id !== 'permissions')
  return {
    title: 'Verification time relative to the floor (µs per call ÷ floor µs per call)',
    subtitle: `Median of ${micro.options.rounds} paired rounds; whiskers min–max.`,
    axisLabel: '× of the floor (lower is better)',
    series: names.map((name, i) => ({ name, color: PALETTE[i] as string })),
    groups: groups.map((g) => ({
      label: g.title.replace('Uncached verification', 'uncached').replace('Cache hit', 'cache hit'),
      bars: names.flatMap((name) => {
        const c = byName(g, name)
        return c ? [whisker(name, c.vsFloor)] : []
      }),
    })),
    scale: 'log',
    refLines: [{ value: 1, label: 'floor' }],
    format: (x) => `${x.toFixed(2)}×`,
    baseline: 1,
  }
}

/** Renders the whole report; each chart follows the table it draws. */
export function renderReport(r: BenchResults) {
  const e = r.environment
  const charts: Record<string, string> = {}
  const chart = (file: string, c: BarChart, alt: string) => {
    charts[file] = renderBarChart(c)
    return `![${alt}](charts/${file})\n`
  }
  const up = r.mode === 'full' && !r.partial && r.parts.length === 5 ? '' : '../../'
  const [m, s] = [r.inMemory, r.http]
  const machine = [e.cpuModel, String(e.cores), `${(e.totalMemBytes / 2 ** 30).toFixed(1)} GiB`]
  const libraries = Object.entries(e.libraries).map(([name, version]) => `${name} ${version}`)
  const out: string[] = [
    '# AuthFramework benchmark report',
    '',
    `Generated by \`${r.command}\` on ${r.startedAt} in ${r.seconds.toFixed(0)} s. Do not edit by hand: re-run it. The method and the goals are in [README.md](${up}README.md), what the figures mean today in [NOTES.md](${up}NOTES.md).`,
    '',
    ...(r.mode === 'quick'
      ? ['> **Smoke run (`--quick`)**: it proves the benchmark runs; its numbers are noise.', '']
      : []),
    table(h('CPU|cores|memory|Node|V8|OpenSSL|load average at start'), [
      [...machine, `${e.node} (${e.platform})`, e.v8, e.openssl, e.loadAverage.join(' / ')],
    ]),
    '',
    `Libraries: ${libraries.join(', ')}. The load generator and the servers share these cores: compare within a run, through the paired ratios.`,
    '',
    ...Object.entries(r.notRun).map(([part, why]) => `- **${part}** was ${why}.\n`),
  ]
  if (r.micro)
    out.push(
      '## Verification and permission lookups, one call at a time',
      '',
      `Ours beside its floor (what any correct implementation must do, in bare \`node:crypto\` / \`lru-cache\`) and fast-jwt; median over ${r.micro.options.rounds} rounds (min–max), ratios paired within a round. Ours is \`auth.authenticate(input)\`, the call the adapters make per request. Every contender is in the tables at the end.`,
      '',
      microSummary(r.micro),
      '',
      chart('micro-vs-floor.svg', microChart(r.micro), 'Verification relative to the floor'),
    )
  if (m || s)
    out.push(
      '## Whole requests: (a) one token, (e) permissions on the route',
      '',
      `Server CPU µs per request (user + system, all threads), median over rounds (min–max); “over bare”, “keeps × of bare” (bare CPU ÷ variant CPU) and “CPU ÷ ours” are paired within a round. (a) repeats one valid RS256 token; (e) rotates ${r.poolSize.toLocaleString('en')} tokens through \`requirePermission('orders:read')\`. **In memory**, the precise view: each app alone in a fresh process, ${m?.connections} in-memory connections, ${m?.counts.warmup.toLocaleString('en')} requests of warm-up, then the fastest of ${m?.counts.batches} batches of ${m?.counts.batchSize.toLocaleString('en')}, ${m?.rounds ?? 0} rounds. **Sockets**: autocannon on 127.0.0.1, ${s?.connections} connections, ${s?.warmupS} s of warm-up ((e): a walk of the pool), ${s?.durationS} s measured, ${s?.rounds ?? 0} rounds; it adds the kernel’s work and a load generator on the same cores. The no-op control runs in memory only.`,
      '',
      requestSummary(r),
      '',
      ...(m?.samples.length
        ? [chart('in-memory-vs-bare.svg', keepsChart(m, 'in memory'), 'Capacity kept, in memory')]
        : []),
      ...(s?.samples.length
        ? [chart('sockets-vs-bare.svg', keepsChart(s, 'on sockets'), 'Capacity kept, sockets')]
        : []),
    )
  if (r.memory) out.push(memorySection(r.memory))
  if (r.login) out.push(...loginSection(r.login, chart))
  if (r.micro) out.push('## Micro-benchmarks in detail', '', microDetail(r.micro))
  if (s)
    out.push(
      '## Sockets: throughput and latency',
      '',
      `What autocannon saw, median over ${s.rounds} rounds (min–max): latency per request as the client measured it, and the server’s RSS at the end of the measured window.`,
      '',
      socketsTable(s),
      '',
    )
  return { markdown: `${out.join('\n').trimEnd()}\n`, charts }
}
