/** The seed's targets, the issue's goals and its reference figures, checked against one run. */
import { cellOf, contenderOf, microRatio, scenarioDelta, versus } from './analysis.js'
import { type InMemoryResult, inMemoryCell, inMemorySeries } from './http/in-memory-run.js'
import type { HttpResult } from './http/index.js'
import {
  FRAMEWORK_NAME,
  FRAMEWORKS,
  type Framework,
  IN_PROCESS_ONE_TOKEN,
  type ScenarioId,
  type VariantId,
} from './http/variants.js'
import type { ContenderId } from './instructions/child.js'
import { type InstructionsResult, instructionRatio, instructionsOf } from './instructions/index.js'
import type { MemoryResult } from './memory.js'
import type { MicroResult } from './micro.js'
import { pairedDelta, type Summary } from './stats.js'
import { ALGORITHMS } from './tokens.js'

export type Status = 'met' | 'not met' | 'not measured'

export interface Row {
  readonly measure: string
  readonly goal: string
  readonly measured: string
  readonly status: Status
}

export interface Inputs {
  readonly micro?: MicroResult
  readonly instructions?: InstructionsResult
  readonly http?: HttpResult
  readonly memory?: MemoryResult
  readonly inMemory?: InMemoryResult
}

/** "12.3 (11.8–13.0)" — median with the min–max over rounds. */
export function fmt(s: Summary | undefined, digits = 1, unit = ''): string {
  if (!s || s.n === 0 || !Number.isFinite(s.median)) return 'n/a'
  const f = (v: number) => v.toFixed(digits)
  const range = s.n > 1 ? ` (${f(s.min)}–${f(s.max)})` : ''
  return `${f(s.median)}${unit}${range}`
}

/** Like {@link fmt}, with an explicit sign: "+3.1 µs (−0.4–+6.0)". */
export function fmtSigned(s: Summary | undefined, digits = 1, unit = ''): string {
  if (!s || s.n === 0 || !Number.isFinite(s.median)) return 'n/a'
  const f = (v: number) => `${v >= 0 ? '+' : '−'}${Math.abs(v).toFixed(digits)}`
  const range = s.n > 1 ? ` (${f(s.min)} to ${f(s.max)})` : ''
  return `${f(s.median)}${unit}${range}`
}

const ok = (cond: boolean | undefined): Status =>
  cond === undefined ? 'not measured' : cond ? 'met' : 'not met'
const all = (...conds: (boolean | undefined)[]): boolean | undefined =>
  conds.some((c) => c === undefined) ? undefined : conds.every(Boolean)

const SCENARIO_IDS: readonly ScenarioId[] = ['a', 'b', 'c', 'd']

/** The peer variants present for a framework, strongest (lowest CPU) first. */
function strongestPeer(http: HttpResult, f: Framework, sc: ScenarioId): VariantId | undefined {
  const peers = (['peer', 'peer-cache'] as const)
    .map((v) => ({ v, c: cellOf(http, f, sc, v) }))
    .filter((x) => x.c !== undefined)
    .sort((x, y) => (x.c?.cpuUs.median ?? 0) - (y.c?.cpuUs.median ?? 0))
  return peers[0]?.v
}

/** The seed's targets: validation latency, rate and memory per instance. */
export function seedTargets({ micro, http, memory }: Inputs): Row[] {
  const rows: Row[] = []
  const oursCells = http
    ? FRAMEWORKS.flatMap((f) => SCENARIO_IDS.map((sc) => cellOf(http, f, sc, 'ours'))).filter(
        (c) => c !== undefined,
      )
    : []
  for (const [key, limit, label] of [
    ['p50', 10, 'validation p50'],
    ['p95', 25, 'validation p95'],
    ['p99', 100, 'validation p99'],
  ] as const) {
    if (oursCells.length === 0) {
      rows.push({ measure: label, goal: `< ${limit} ms`, measured: 'n/a', status: 'not measured' })
      continue
    }
    const worst = oursCells.reduce((w, c) => (c[key].median > w[key].median ? c : w))
    rows.push({
      measure: label,
      goal: `< ${limit} ms`,
      measured: `worst ${worst[key].median.toFixed(2)} ms (${FRAMEWORK_NAME[worst.framework]}, scenario ${worst.scenario}, 50 connections); request latency, auth included`,
      status: ok(worst[key].median < limit),
    })
  }
  for (const f of FRAMEWORKS) {
    const c = http ? cellOf(http, f, 'c', 'ours') : undefined
    const bare = http ? cellOf(http, f, 'c', 'bare') : undefined
    rows.push({
      measure: `validations/s, ${FRAMEWORK_NAME[f]}`,
      goal: '> 5,000/s',
      measured: c
        ? `${c.reqPerSec.median.toFixed(0)} req/s with a new token on every request (c); bare ${FRAMEWORK_NAME[f]} serves ${bare?.reqPerSec.median.toFixed(0) ?? 'n/a'} req/s on the same run`
        : 'n/a',
      status: ok(c ? c.reqPerSec.median > 5000 : undefined),
    })
  }
  const rs = contenderOf(micro, 'uncached-RS256', 'ours (cache: false)')
  rows.push({
    measure: 'validations/s, core alone, one core',
    goal: '> 5,000/s',
    measured: rs
      ? `${(1e6 / rs.us.median).toFixed(0)}/s uncached RS256, one call at a time`
      : 'n/a',
    status: ok(rs ? 1e6 / rs.us.median > 5000 : undefined),
  })
  const maxRss = http
    ? Math.max(
        0,
        ...http.samples
          .filter((s) => s.variant === 'ours' || s.variant === 'ours-nocache')
          .map((s) => s.rssBytes),
      )
    : 0
  const million = memory?.reports.find((r) => r.subject === 'ours' && r.entries >= 1_000_000)
  rows.push({
    measure: 'memory per instance',
    goal: '< 2 GB',
    measured:
      (maxRss > 0
        ? `largest server RSS under load ${(maxRss / 2 ** 20).toFixed(0)} MiB`
        : 'no HTTP run') +
      (million
        ? `; process with 1M cached verifications ${(million.rssAfterBytes / 2 ** 20).toFixed(0)} MiB`
        : ''),
    status: ok(maxRss > 0 ? maxRss < 2e9 && (!million || million.rssAfterBytes < 2e9) : undefined),
  })
  return rows
}

const KEEP: Record<Framework, number> = { fastify: 0.85, koa: 0.9, express: 0.97 }

/** "; instructions ×0.95 of X" from the callgrind counts, when they were taken. */
function instructionNote(
  r: InstructionsResult | undefined,
  group: string,
  of: readonly (readonly [ContenderId, string])[],
): string {
  const parts = of
    .map(([b, label]) => {
      const x = instructionRatio(r, group, group.startsWith('cache-hit') ? 'ours-hit' : 'ours', b)
      return x === undefined ? undefined : `×${x.toFixed(2)} ${label}`
    })
    .filter(Boolean)
  return parts.length ? `; instructions: ${parts.join(', ')}` : ''
}

/** An instruction note on its own (the timing part was not run), or n/a. */
const orNa = (note: string) => (note ? `timing n/a${note}` : 'n/a')

/** Thousands of instructions, signed: "+28.2k". */
export const kSigned = (n: number) => `${n >= 0 ? '+' : '−'}${(Math.abs(n) / 1000).toFixed(1)}k`

/** "; instructions: +28.2k per request over bare, …" for scenario (a), when counted. */
function httpInstructionNoteA(r: InstructionsResult | undefined, f: Framework): string {
  const g = `http-a-${f}`
  const bare = instructionsOf(r, g, 'bare')
  const ours = instructionsOf(r, g, 'ours')
  if (bare === undefined || ours === undefined) return ''
  const noop = instructionsOf(r, g, 'noop')
  // the peer counted in (a): the framework's strongest (Fastify's with its cache)
  const peer = r?.groups.find((x) => x.id === g)?.rows.find((row) => row.role === 'peer')
  const vsPeer = peer ? instructionRatio(r, g, peer.contender, 'ours') : undefined
  return `; instructions: ${kSigned(ours - bare)} per request over bare${noop === undefined ? '' : ` (no-op ${kSigned(noop - bare)})`}, keeps ×${(bare / ours).toFixed(2)} of bare${vsPeer === undefined ? '' : `, ×${vsPeer.toFixed(2)} the peer`}`
}

/** "; instructions: cache on − off +25.0k per request, ×1.04 the peer" for scenario (c). */
function httpInstructionNoteC(r: InstructionsResult | undefined, f: Framework): string {
  const g = `http-c-${f}`
  const ours = instructionsOf(r, g, 'ours')
  const off = instructionsOf(r, g, 'ours-nocache')
  const vsPeer = instructionRatio(r, g, 'peer', 'ours')
  if (ours === undefined || off === undefined) return ''
  return `; instructions: cache on − off ${kSigned(ours - off)} per request${vsPeer === undefined ? '' : `, ×${vsPeer.toFixed(2)} the peer`}`
}

/** "; in-memory: +3.1 µs (…) over bare (no-op …), keeps ×…, ×… the peer" for scenario (a). */
function inMemoryNoteA(r: InMemoryResult | undefined, f: Framework): string {
  const ours = inMemoryCell(r, f, 'a', 'ours')
  if (!ours) return ''
  const noop = inMemoryCell(r, f, 'a', 'noop')
  const peerId = IN_PROCESS_ONE_TOKEN[f].find((v) => v.startsWith('peer'))
  const peer = peerId && inMemoryCell(r, f, 'a', peerId)
  return `; in-memory timing: ${fmtSigned(ours.overBare, 1, ' µs')} over bare${noop ? ` (no-op ${fmtSigned(noop.overBare, 1, ' µs')})` : ''}, keeps ×${fmt(ours.keepsOfBare, 2)} of bare${peer ? `, ×${fmt(peer.vsOurs, 2)} the peer` : ''}`
}

/** "; in-memory timing: cache on − off +2.0 µs, ×1.10 the peer" for scenario (c). */
function inMemoryNoteC(r: InMemoryResult | undefined, f: Framework): string {
  const ours = inMemorySeries(r, f, 'c', 'ours')
  if (!ours.some(Number.isFinite)) return ''
  const machinery = pairedDelta(ours, inMemorySeries(r, f, 'c', 'ours-nocache'))
  const peer = inMemoryCell(r, f, 'c', 'peer')
  return `; in-memory timing: cache on − off ${fmtSigned(machinery, 1, ' µs')}${peer ? `, ×${fmt(peer.vsOurs, 2)} the peer` : ''}`
}

/** The issue's goal table. */
export function issueGoals({ micro, http, memory, instructions, inMemory }: Inputs): Row[] {
  const rows: Row[] = []
  // Cached hit.
  {
    const ours = contenderOf(micro, 'cache-hit-RS256', 'ours (cache hit)')
    const vs = microRatio(micro, 'cache-hit-RS256', 'ours (cache hit)', 'fast-jwt (cache hit)')
    rows.push({
      measure: 'cached hit (RS256)',
      goal: '≤ 2.5 µs, and faster than fast-jwt’s hit',
      measured: ours
        ? `${fmt(ours.us, 2, ' µs')}; ×${fmt(vs, 2)} of fast-jwt’s hit${instructionNote(
            instructions,
            'cache-hit-RS256',
            [
              ['fast-jwt-hit', 'of fast-jwt’s hit'],
              ['floor-hit', 'of the floor'],
            ],
          )}`
        : 'n/a',
      status: ok(ours && vs ? ours.us.median <= 2.5 && vs.median < 1 : undefined),
    })
  }
  for (const f of FRAMEWORKS) {
    const c = http ? cellOf(http, f, 'a', 'ours') : undefined
    const peer = http ? strongestPeer(http, f, 'a') : undefined
    const vs = http && peer ? versus(http, f, 'a', 'ours', peer) : undefined
    const noop = http ? cellOf(http, f, 'a', 'noop') : undefined
    rows.push({
      measure: `extra CPU per request over bare, (a), ${FRAMEWORK_NAME[f]}`,
      goal: `≤ 5 µs, ≥ ${KEEP[f]}× of bare, ≥ 1.6× the peer`,
      measured: c
        ? `${fmtSigned(c.extraCpuUs, 1, ' µs')}; keeps ×${fmt(c.capacityVsBare, 2)} of bare (req/s ×${fmt(c.throughputVsBare, 2)}); ×${fmt(vs?.capacity, 2)} the peer${peer === 'peer-cache' ? ' with its cache' : ''}${noop ? `; a no-op middleware: ${fmtSigned(noop.extraCpuUs, 1, ' µs')}` : ''}${httpInstructionNoteA(instructions, f)}${inMemoryNoteA(inMemory, f)}`
        : orNa(`${httpInstructionNoteA(instructions, f)}${inMemoryNoteA(inMemory, f)}`),
      status: ok(
        c
          ? all(
              c.extraCpuUs.median <= 5,
              c.capacityVsBare.median >= KEEP[f],
              vs ? vs.capacity.median >= 1.6 : undefined,
            )
          : undefined,
      ),
    })
  }
  for (const f of FRAMEWORKS) {
    const d = http ? scenarioDelta(http, f, 'ours', 'b', 'a') : undefined
    rows.push({
      measure: `rotating tokens (b) vs one token (a), ${FRAMEWORK_NAME[f]}`,
      goal: 'equal after warm-up (auth cost within ±5 µs)',
      measured: d ? `auth CPU of (b) − (a): ${fmtSigned(d, 1, ' µs')}` : 'n/a',
      status: ok(d ? Math.abs(d.median) <= 5 : undefined),
    })
  }
  for (const f of FRAMEWORKS) {
    const machinery = http ? versus(http, f, 'c', 'ours', 'ours-nocache') : undefined
    const vsPeer = http ? versus(http, f, 'c', 'ours', 'peer') : undefined
    rows.push({
      measure: `cache that keeps missing (c), ${FRAMEWORK_NAME[f]}`,
      goal: 'cache adds ≤ 10 µs over plain verification; ≥ 1.1× the peer without cache',
      measured:
        machinery || vsPeer
          ? `cache on − cache off: ${fmtSigned(machinery?.cpuDelta, 1, ' µs')}; ×${fmt(vsPeer?.capacity, 2)} the peer (req/s ×${fmt(vsPeer?.throughput, 2)})${httpInstructionNoteC(instructions, f)}${inMemoryNoteC(inMemory, f)}`
          : orNa(`${httpInstructionNoteC(instructions, f)}${inMemoryNoteC(inMemory, f)}`),
      status: ok(
        machinery && vsPeer
          ? machinery.cpuDelta.median <= 10 && vsPeer.capacity.median >= 1.1
          : undefined,
      ),
    })
  }
  for (const alg of ALGORITHMS) {
    const id = `uncached-${alg}`
    const vsFloor = microRatio(micro, id, 'ours (cache: false)', 'floor (node:crypto)')
    const vsFast = microRatio(micro, id, 'ours (cache: false)', 'fast-jwt')
    rows.push({
      measure: `uncached verification, ${alg}`,
      goal: '≤ 1.15× the floor, and no slower than fast-jwt',
      measured: vsFloor
        ? `×${fmt(vsFloor, 2)} of the floor; ×${fmt(vsFast, 2)} of fast-jwt${instructionNote(
            instructions,
            id,
            [
              ['floor', 'of the floor'],
              ['fast-jwt', 'of fast-jwt'],
            ],
          )}`
        : 'n/a',
      status: ok(vsFloor && vsFast ? vsFloor.median <= 1.15 && vsFast.median <= 1 : undefined),
    })
  }
  for (const f of ['fastify', 'koa'] as const) {
    const c = http ? cellOf(http, f, 'a', 'ours') : undefined
    const bare = http ? cellOf(http, f, 'a', 'bare') : undefined
    rows.push({
      measure: `p99 latency at ${http?.options.connections ?? 50} connections, (a), ${FRAMEWORK_NAME[f]}`,
      goal: '≤ 5 ms',
      measured: c ? `${fmt(c.p99, 2, ' ms')}; bare ${fmt(bare?.p99, 2, ' ms')}` : 'n/a',
      status: ok(c ? c.p99.median <= 5 : undefined),
    })
  }
  {
    const r = memory?.reports.find((x) => x.subject === 'ours' && x.entries >= 1_000_000)
    rows.push({
      measure: 'memory per cached verification at 1M entries',
      goal: '≤ 600 bytes',
      measured: r
        ? `${(r.rssDeltaBytes / r.entries).toFixed(0)} B of RSS (${(r.heapDeltaBytes / r.entries).toFixed(0)} B of heap)`
        : 'n/a (1M entries run in full mode only)',
      status: ok(r ? r.rssDeltaBytes / r.entries <= 600 : undefined),
    })
  }
  return rows
}

export interface Reference {
  readonly figure: string
  readonly reference: string
  readonly measured: string
}

/** The issue's reference figures next to this run's. Context, not pass/fail. */
export function referenceFigures({ micro, http }: Inputs): Reference[] {
  const out: Reference[] = []
  const cpu = (f: Framework, v: VariantId) => (http ? cellOf(http, f, 'a', v) : undefined)
  out.push({
    figure: 'bare server CPU per request (a)',
    reference: 'Fastify ≈ 28 µs, Koa ≈ 50 µs, Express ≈ 175–240 µs',
    measured: FRAMEWORKS.map(
      (f) => `${FRAMEWORK_NAME[f]} ${fmt(cpu(f, 'bare')?.cpuUs, 0, ' µs')}`,
    ).join(', '),
  })
  out.push({
    figure: '@fastify/jwt with its cache, share of bare Fastify kept (a)',
    reference: '0.48–0.51× (≈ 32 µs extra)',
    measured: `×${fmt(cpu('fastify', 'peer-cache')?.capacityVsBare, 2)} (${fmtSigned(cpu('fastify', 'peer-cache')?.extraCpuUs, 0, ' µs')})`,
  })
  out.push({
    figure: 'express-jwt RS256, share of bare Express kept (a)',
    reference: '0.29–0.31× with a PEM key, 0.62× with a KeyObject',
    measured: `PEM ×${fmt(cpu('express', 'peer-pem')?.capacityVsBare, 2)}, KeyObject ×${fmt(cpu('express', 'peer')?.capacityVsBare, 2)}`,
  })
  out.push({
    figure: 'koa-jwt RS256, share of bare Koa kept (a)',
    reference: '0.10×',
    measured: `PEM ×${fmt(cpu('koa', 'peer-pem')?.capacityVsBare, 2)}, KeyObject ×${fmt(cpu('koa', 'peer')?.capacityVsBare, 2)}`,
  })
  out.push({
    figure: 'fast-jwt cache hit / cached floor (RS256)',
    reference: '4.2–5.0 µs / 2.1–2.5 µs',
    measured: `${fmt(contenderOf(micro, 'cache-hit-RS256', 'fast-jwt (cache hit)')?.us, 2, ' µs')} / ${fmt(contenderOf(micro, 'cache-hit-RS256', 'floor (sha256 + lru get + exp)')?.us, 2, ' µs')}`,
  })
  const miss = http ? versus(http, 'fastify', 'c', 'peer-cache', 'peer') : undefined
  out.push({
    figure: 'a fast-jwt cache that keeps missing, extra CPU per request (Fastify, c)',
    reference: '21–33 µs',
    measured: fmtSigned(miss?.cpuDelta, 1, ' µs'),
  })
  out.push({
    figure: 'uncached floor per call',
    reference: 'RS256 ≈ 35 µs, ES256 ≈ 90 µs, EdDSA ≈ 132 µs, HS256 ≈ 10 µs',
    measured: ALGORITHMS.map(
      (a) =>
        `${a} ${fmt(contenderOf(micro, `uncached-${a}`, 'floor (node:crypto)')?.us, 1, ' µs')}`,
    ).join(', '),
  })
  out.push({
    figure: 'fast-jwt / jose jwtVerify vs the floor, uncached',
    reference: 'fast-jwt within 3–8 %; jose ≈ 2×',
    measured: ALGORITHMS.map(
      (a) =>
        `${a} ×${fmt(microRatio(micro, `uncached-${a}`, 'fast-jwt', 'floor (node:crypto)'), 2)} / ×${fmt(microRatio(micro, `uncached-${a}`, 'jose jwtVerify', 'floor (node:crypto)'), 1)}`,
    ).join('; '),
  })
  return out
}
