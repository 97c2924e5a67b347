/** Writes REPORT.md and its SVG charts from one run's results. */

import { cellOf, versus } from './analysis.js'
import type { Environment } from './env.js'
import {
  fmt,
  fmtSigned,
  issueGoals,
  type Row,
  referenceFigures,
  type Status,
  seedTargets,
} from './goals.js'
import type { InMemoryResult } from './http/in-memory-run.js'
import type { HttpResult } from './http/index.js'
import {
  FRAMEWORK_NAME,
  FRAMEWORKS,
  PEER_NAME,
  SCENARIOS,
  type VariantId,
  variantLabel,
} from './http/variants.js'
import type { InstructionsResult } from './instructions/index.js'
import type { IntrospectionResult } from './introspection/index.js'
import type { MemoryResult } from './memory.js'
import type { MicroResult } from './micro.js'
import { extraSections } from './report-extra.js'
import { spreadPercent } from './stats.js'
import { type BarChart, type BarGroup, PALETTE, renderBarChart } from './svg.js'

export interface BenchResults {
  readonly schema: 1
  readonly mode: 'full' | 'quick'
  readonly command: string
  readonly startedAt: string
  readonly finishedAt: string
  readonly seconds: number
  readonly environment: Environment
  readonly micro?: MicroResult
  readonly http?: HttpResult
  readonly memory?: MemoryResult
  readonly introspection?: IntrospectionResult
  readonly instructions?: InstructionsResult
  readonly inMemory?: InMemoryResult
}

export interface ReportExtras {
  /** Hand-written analysis (bench/NOTES.md), included verbatim after the goal tables. */
  readonly notes?: string
}

export interface RenderedReport {
  readonly markdown: string
  /** File name (relative to the report's `charts/` folder) -> SVG. */
  readonly charts: Readonly<Record<string, string>>
}

const ICON: Record<Status, string> = {
  met: '✅ met',
  'not met': '❌ not met',
  'not measured': '— not measured',
}

function table(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const esc = (c: string) => c.replace(/\|/g, '\\|')
  return [
    `| ${head.map(esc).join(' | ')} |`,
    `|${head.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`),
  ].join('\n')
}

function goalTable(rows: readonly Row[]): string {
  return table(
    ['measure', 'goal', 'measured (median, min–max over rounds)', 'status'],
    rows.map((r) => [r.measure, r.goal, r.measured, ICON[r.status]]),
  )
}

const VARIANT_SERIES: readonly { id: VariantId; name: string }[] = [
  { id: 'noop', name: 'no-op middleware (control)' },
  { id: 'ours', name: 'ours' },
  { id: 'ours-nocache', name: 'ours, cache: false' },
  { id: 'peer', name: 'peer (no cache / KeyObject)' },
  { id: 'peer-cache', name: 'peer with cache (@fastify/jwt)' },
  { id: 'peer-pem', name: 'peer with a PEM string' },
]
const SERIES_COLORS = VARIANT_SERIES.map((s, i) => ({
  name: s.name,
  color: i === 0 ? '#c9ced2' : (PALETTE[i - 1] as string),
}))

function ratioChart(http: HttpResult, kind: 'throughput' | 'capacity'): BarChart {
  const groups: BarGroup[] = []
  for (const f of FRAMEWORKS) {
    for (const sc of SCENARIOS) {
      if (!http.options.scenarios.includes(sc.id)) continue
      const bars = VARIANT_SERIES.flatMap((s) => {
        const c = cellOf(http, f, sc.id, s.id)
        if (!c) return []
        const r = kind === 'throughput' ? c.throughputVsBare : c.capacityVsBare
        return [{ series: s.name, value: r.median, lo: r.min, hi: r.max }]
      })
      if (bars.length)
        groups.push({
          label: `${FRAMEWORK_NAME[f]} · ${sc.id} ${sc.tokens === 'one' ? 'one token' : sc.tokens === 'rotate' ? '10k rotated' : sc.tokens === 'fresh' ? 'new token each' : 'compressed'}`,
          bars,
        })
    }
  }
  return {
    title:
      kind === 'throughput'
        ? 'Throughput relative to the bare framework (req/s ÷ bare req/s)'
        : 'Capacity relative to the bare framework (bare CPU µs/req ÷ variant CPU µs/req)',
    subtitle: `Median of ${http.options.rounds} paired round(s); whiskers: min–max. 1.0 = as fast as no auth at all.`,
    axisLabel: '× of bare (higher is better)',
    series: SERIES_COLORS,
    groups,
    refLines: [{ value: 1, label: 'bare' }],
    format: (v) => v.toFixed(2),
  }
}

function latencyChart(http: HttpResult): BarChart {
  const groups: BarGroup[] = []
  for (const f of FRAMEWORKS) {
    for (const sc of ['a', 'c'] as const) {
      if (!http.options.scenarios.includes(sc)) continue
      for (const v of ['bare', ...VARIANT_SERIES.map((s) => s.id)] as VariantId[]) {
        const c = cellOf(http, f, sc, v)
        if (!c) continue
        groups.push({
          label: `${FRAMEWORK_NAME[f]} ${sc} · ${variantLabel(f, v)}`,
          bars: (['p50', 'p95', 'p99'] as const).map((p) => ({
            series: p,
            value: c[p].median,
            lo: c[p].min,
            hi: c[p].max,
          })),
        })
      }
    }
  }
  return {
    title: `Request latency percentiles at ${http.options.connections} connections, scenarios (a) and (c)`,
    subtitle:
      'Milliseconds; median over rounds, whiskers min–max. Client and server share the machine.',
    axisLabel: 'latency, ms (lower is better)',
    series: [
      { name: 'p50', color: PALETTE[0] },
      { name: 'p95', color: PALETTE[1] },
      { name: 'p99', color: PALETTE[3] },
    ],
    groups,
    scale: 'log',
    format: (v) => v.toFixed(v < 10 ? 2 : 1),
    width: 940,
  }
}

function microChart(micro: MicroResult): BarChart {
  const names = [
    'ours (cache: false)',
    'ours (cache on, 8× more tokens than it holds)',
    'fast-jwt',
    'jsonwebtoken',
    'jose jwtVerify',
    'ours (cache hit)',
    'fast-jwt (cache hit)',
  ]
  const series = names.map((name, i) => ({ name, color: PALETTE[i % PALETTE.length] as string }))
  const groups: BarGroup[] = micro.groups
    .filter((g) => g.id.startsWith('uncached-') || g.id.startsWith('cache-hit-'))
    .map((g) => ({
      label: g.title.replace('Uncached verification', 'uncached').replace('Cache hit', 'cache hit'),
      bars: g.contenders
        .filter((c) => !c.skipped && names.includes(c.name))
        .map((c) => ({
          series: c.name,
          value: c.vsBaseline.median,
          lo: c.vsBaseline.min,
          hi: c.vsBaseline.max,
        })),
    }))
  return {
    title: 'Verification cost relative to the floor (µs per call ÷ floor µs per call)',
    subtitle: `Median of ${micro.options.rounds} paired rounds; whiskers min–max. Floor = bare node:crypto (uncached) or sha256 + lru-cache get + exp (cache hit).`,
    axisLabel: '× of the floor (lower is better)',
    series,
    groups,
    scale: 'log',
    refLines: [
      { value: 1, label: 'floor' },
      { value: 1.15, label: '1.15×' },
    ],
    format: (v) => `${v.toFixed(2)}×`,
    width: 940,
    baseline: 1,
  }
}

function cpuChart(http: HttpResult): BarChart {
  const groups: BarGroup[] = []
  for (const f of FRAMEWORKS) {
    for (const sc of SCENARIOS) {
      const bars = (['bare', ...VARIANT_SERIES.map((s) => s.id)] as VariantId[]).flatMap((v) => {
        const c = cellOf(http, f, sc.id, v)
        if (!c) return []
        const name = v === 'bare' ? 'bare' : (VARIANT_SERIES.find((s) => s.id === v)?.name ?? v)
        return [{ series: name, value: c.cpuUs.median, lo: c.cpuUs.min, hi: c.cpuUs.max }]
      })
      if (bars.length) groups.push({ label: `${FRAMEWORK_NAME[f]} · ${sc.id}`, bars })
    }
  }
  return {
    title: 'Server CPU time per request (user + system, all threads)',
    subtitle: 'µs per request; median over rounds, whiskers min–max.',
    axisLabel: 'µs of CPU per request (lower is better)',
    series: [{ name: 'bare', color: '#9aa5ad' }, ...SERIES_COLORS],
    groups,
    scale: 'log',
    format: (v) => v.toFixed(0),
    width: 940,
  }
}

function microSection(micro: MicroResult): string {
  const parts: string[] = [
    '## Micro-benchmarks (core)',
    '',
    `${micro.options.rounds} rounds per group; each round times every contender for ≈ ${micro.options.sampleMs} ms (as three sub-batches, keeping the fastest), in an order that rotates and reverses each round; ${micro.options.warmupMs} ms warm-up each. Ratios are paired (taken within a round), then the median across rounds. Ours: ${micro.oursStatus === 'ok' ? '`createAuth(...).verify(token)`, awaited one call at a time' : `not measured (${micro.oursStatus})`}.`,
    '',
  ]
  for (const g of micro.groups) {
    parts.push(`### ${g.title}`, '', g.note, '')
    parts.push(
      table(
        ['contender', 'role', 'µs per call', 'ops/s', 'spread', `× ${g.baseline}`],
        g.contenders.map((c) =>
          c.skipped
            ? [
                c.name,
                c.role,
                c.skipped.startsWith('not run') ? 'not run' : 'skipped',
                '',
                '',
                c.skipped,
              ]
            : [
                c.name,
                c.role,
                fmt(c.us, 2),
                Number.isFinite(c.us.median) ? (1e6 / c.us.median).toFixed(0) : 'n/a',
                `±${spreadPercent(c.us).toFixed(1)} %`,
                c.name === g.baseline ? '1' : fmt(c.vsBaseline, 2),
              ],
        ),
      ),
      '',
    )
  }
  return parts.join('\n')
}

function httpSection(http: HttpResult): string {
  const o = http.options
  const parts: string[] = [
    '## HTTP',
    '',
    `autocannon in the parent process, the server in a child process, both on 127.0.0.1. ${o.connections} connections, pipelining 1, ${o.warmupS} s warm-up (scenario b: one walk of its ${http.poolSizes.rotate} tokens instead), then ${o.durationS} s measured; ${o.rounds} round(s), fresh server processes each round, variants in an order that rotates and reverses each round. Server CPU comes from \`process.cpuUsage()\` in the server, sampled at the start and end of the measured window. Latency is per request, measured by the client. “× bare” is paired per round: CPU = bare CPU µs/req ÷ variant CPU µs/req (capacity kept); req/s = variant ÷ bare.`,
    '',
  ]
  for (const f of FRAMEWORKS) {
    const rows: string[][] = []
    for (const sc of SCENARIOS) {
      for (const v of sc.variants(f)) {
        const c = cellOf(http, f, sc.id, v)
        if (!c) continue
        rows.push([
          sc.id,
          variantLabel(f, v),
          fmt(c.reqPerSec, 0),
          fmt(c.p50, 2),
          fmt(c.p95, 2),
          fmt(c.p99, 2),
          fmt(c.cpuUs, 1),
          v === 'bare' ? '' : fmtSigned(c.extraCpuUs, 1),
          v === 'bare' ? '' : fmt(c.capacityVsBare, 2),
          v === 'bare' ? '' : fmt(c.throughputVsBare, 2),
        ])
      }
    }
    if (rows.length === 0) continue
    parts.push(`### ${FRAMEWORK_NAME[f]}`, '')
    parts.push(
      table(
        [
          'scenario',
          'variant',
          'req/s',
          'p50 ms',
          'p95 ms',
          'p99 ms',
          'CPU µs/req',
          'extra CPU µs',
          '× bare (CPU)',
          '× bare (req/s)',
        ],
        rows,
      ),
      '',
    )
  }
  // Ours against each peer.
  const vsRows: string[][] = []
  for (const f of FRAMEWORKS) {
    for (const sc of SCENARIOS) {
      for (const peer of ['peer', 'peer-cache', 'peer-pem'] as const) {
        const v = versus(http, f, sc.id, 'ours', peer)
        if (!v) continue
        vsRows.push([
          FRAMEWORK_NAME[f],
          sc.id,
          variantLabel(f, peer),
          fmt(v.capacity, 2),
          fmt(v.throughput, 2),
          fmtSigned(v.cpuDelta, 1),
        ])
      }
    }
  }
  if (vsRows.length) {
    parts.push(
      '### Ours against the peers',
      '',
      'CPU ratio: peer CPU µs/req ÷ ours (how many requests ours serves for each one the peer serves on the same CPU); req/s ratio: ours ÷ peer; both paired per round.',
      '',
      table(
        [
          'framework',
          'scenario',
          'peer',
          '× peer (CPU)',
          '× peer (req/s)',
          'ours − peer, CPU µs/req',
        ],
        vsRows,
      ),
      '',
    )
  }
  const rssRows = FRAMEWORKS.flatMap((f) =>
    (['bare', 'ours', 'peer', 'peer-cache'] as const).flatMap((v) => {
      const c = cellOf(http, f, 'b', v)
      return c
        ? [
            [
              FRAMEWORK_NAME[f],
              variantLabel(f, v),
              fmt(
                {
                  ...c.rssBytes,
                  median: c.rssBytes.median / 2 ** 20,
                  min: c.rssBytes.min / 2 ** 20,
                  max: c.rssBytes.max / 2 ** 20,
                },
                0,
              ),
            ],
          ]
        : []
    }),
  )
  if (rssRows.length) {
    parts.push(
      '### Process RSS under scenario (b)',
      '',
      'Server RSS at the end of the measured window, MiB.',
      '',
      table(['framework', 'variant', 'RSS MiB'], rssRows),
      '',
    )
  }
  const notes: string[] = []
  for (const s of http.skipped)
    notes.push(
      `- ${FRAMEWORK_NAME[s.framework]} ${variantLabel(s.framework, s.variant)} did not run: ${s.reason}`,
    )
  for (const f of FRAMEWORKS) {
    for (const sc of SCENARIOS) {
      for (const v of sc.variants(f)) {
        const c = cellOf(http, f, sc.id, v)
        if (!c) continue
        if (c.non2xx || c.errors) {
          notes.push(
            `- ${FRAMEWORK_NAME[f]} ${sc.id} ${variantLabel(f, v)}: ${c.non2xx} non-2xx responses, ${c.errors} errors — its figures are not valid.`,
          )
        }
        if (c.reusedTokens > 0 && v !== 'bare') {
          notes.push(
            `- ${FRAMEWORK_NAME[f]} ${sc.id} ${variantLabel(f, v)}: the pool of ${http.poolSizes.fresh} fresh tokens ran out; ${c.reusedTokens} of ${c.measuredRequests} measured requests (${((c.reusedTokens / c.measuredRequests) * 100).toFixed(1)} %) reused a token this server had seen.`,
          )
        }
      }
    }
  }
  if (notes.length) parts.push('### Notes on this run', '', ...notes, '')
  return parts.join('\n')
}

function memorySection(memory: MemoryResult): string {
  const rows = memory.reports.map((r) => [
    r.subject,
    r.entries.toLocaleString('en-US'),
    r.alg,
    (r.rssDeltaBytes / r.entries).toFixed(0),
    (r.heapDeltaBytes / r.entries).toFixed(0),
    (r.rssAfterBytes / 2 ** 20).toFixed(0),
    r.seconds.toFixed(1),
  ])
  for (const f of memory.failures)
    rows.push([f.subject, f.entries.toLocaleString('en-US'), '', 'failed', f.reason, '', ''])
  return [
    '## Memory per cached verification',
    '',
    'One child process (`--expose-gc`) per row: the cache is filled with N distinct verified tokens (signed on the fly and dropped, so only what the cache keeps stays alive), and the growth of RSS and of V8 heap + external memory over a baseline taken after warm-up and a full GC is divided by N. Floor: sha256 key + lru-cache + the parsed claims. fast-jwt: its own LRU cache of N entries.',
    ...(memory.note ? ['', memory.note] : []),
    '',
    table(
      [
        'cache',
        'entries',
        'tokens',
        'B RSS / entry',
        'B heap / entry',
        'RSS after, MiB',
        'fill time, s',
      ],
      rows,
    ),
    '',
  ].join('\n')
}

/** Renders the whole report. */
export function renderReport(r: BenchResults, extras: ReportExtras = {}): RenderedReport {
  const charts: Record<string, string> = {}
  const e = r.environment
  const parts: string[] = [
    '# AuthFramework benchmark report',
    '',
    `Generated by \`${r.command}\` on ${r.startedAt} in ${r.seconds.toFixed(0)} s. Do not edit by hand: re-run it. The method is in [README.md](${r.mode === 'quick' ? '../../README.md' : 'README.md'}).`,
    '',
  ]
  if (r.mode === 'quick') {
    parts.push(
      '> **Smoke run (`--quick`).** Durations and rounds are cut to the bone so that CI can check the benchmarks still run. Its numbers are noise; read the full report instead.',
      '',
    )
  }
  parts.push(
    '## Machine',
    '',
    table(
      [
        'CPU',
        'cores',
        'memory',
        'OS',
        'Node',
        'V8',
        'OpenSSL',
        'load average at start (1/5/15 min)',
      ],
      [
        [
          e.cpuModel,
          String(e.cores),
          `${(e.totalMemBytes / 2 ** 30).toFixed(1)} GiB`,
          e.platform,
          e.node,
          e.v8,
          e.openssl,
          e.loadAverage.map((l) => l.toFixed(2)).join(' / '),
        ],
      ],
    ),
    '',
    table(
      ['library', 'version'],
      Object.entries(e.libraries).map(([k, v]) => [k, v]),
    ),
    '',
    'The load generator and the server share these cores, so absolute figures are low and noisy; compare within a run, through the paired ratios.',
    '',
    '## Seed targets',
    '',
    goalTable(seedTargets(r)),
    '',
    '## Goals (issue 6)',
    '',
    'Each status is judged on the figures the issue names: the micro-benchmarks, and for HTTP, the server’s CPU per request under autocannon on sockets. Where a row adds instruction counts or in-memory timings (whole requests without the kernel and the load generator, resolved to a few tenths of a µs), those are shown to settle what the socket figures cannot, and do not change the status. “Where the time goes” below says, goal by goal, what is missed and why.',
    '',
    goalTable(issueGoals(r)),
    '',
    '## Reference figures',
    '',
    'The issue’s figures from an earlier machine of this kind, next to this run’s. Context, not pass/fail.',
    '',
    table(
      ['figure', 'reference', 'this run'],
      referenceFigures(r).map((x) => [x.figure, x.reference, x.measured]),
    ),
    '',
  )
  if (extras.notes?.trim()) {
    parts.push(
      '## Where the time goes',
      '',
      '_Hand-written from CPU profiles (`bench/NOTES.md`), kept with the report; it describes the core as it was when written and may lag behind the tables above._',
      '',
      extras.notes.trim().replace(/^# .*\n+/, ''),
      '',
    )
  }
  const chartLines: string[] = []
  if (r.http?.samples.length) {
    charts['throughput-ratios.svg'] = renderBarChart(ratioChart(r.http, 'throughput'))
    charts['capacity-ratios.svg'] = renderBarChart(ratioChart(r.http, 'capacity'))
    charts['latency-percentiles.svg'] = renderBarChart(latencyChart(r.http))
    charts['cpu-per-request.svg'] = renderBarChart(cpuChart(r.http))
    chartLines.push(
      '![Throughput relative to bare](charts/throughput-ratios.svg)',
      '',
      '![Capacity relative to bare](charts/capacity-ratios.svg)',
      '',
      '![Latency percentiles](charts/latency-percentiles.svg)',
      '',
      '![Server CPU per request](charts/cpu-per-request.svg)',
      '',
    )
  }
  if (r.micro) {
    charts['micro-vs-floor.svg'] = renderBarChart(microChart(r.micro))
    chartLines.push('![Verification cost relative to the floor](charts/micro-vs-floor.svg)', '')
  }
  if (chartLines.length) parts.push('## Charts', '', ...chartLines)
  if (r.micro) parts.push(microSection(r.micro))
  if (r.http) parts.push(httpSection(r.http))
  if (r.memory) parts.push(memorySection(r.memory))
  const extra = extraSections(r, table)
  if (extra) parts.push(extra)
  const peerLine = FRAMEWORKS.map((f) => `${FRAMEWORK_NAME[f]}: ${PEER_NAME[f]}`).join('; ')
  parts.push(
    '## What was compared',
    '',
    `Peers per framework — ${peerLine}. Every contender verifies RS256 with issuer and audience checks, with the same public key; peers get their fastest documented key form (a KeyObject, or a PEM that they turn into one once).`,
    '',
  )
  return { markdown: `${parts.join('\n').trimEnd()}\n`, charts }
}
