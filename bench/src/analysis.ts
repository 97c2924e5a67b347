/** Turns raw HTTP samples into per-cell summaries and paired ratios. */
import type { HttpResult, HttpSample } from './http/index.js'
import type { Framework, ScenarioId, VariantId } from './http/variants.js'
import type { GroupResult, MicroResult } from './micro.js'
import { pairedDelta, pairedRatio, type Summary, summarize } from './stats.js'

export interface Cell {
  readonly framework: Framework
  readonly scenario: ScenarioId
  readonly variant: VariantId
  readonly rounds: number
  readonly reqPerSec: Summary
  readonly p50: Summary
  readonly p95: Summary
  readonly p99: Summary
  readonly cpuUs: Summary
  readonly rssBytes: Summary
  /** bare CPU µs/req ÷ this CPU µs/req, paired by round: the share of bare capacity kept. */
  readonly capacityVsBare: Summary
  /** this req/s ÷ bare req/s, paired by round. */
  readonly throughputVsBare: Summary
  /** this CPU µs/req − bare CPU µs/req, paired by round. */
  readonly extraCpuUs: Summary
  readonly non2xx: number
  readonly errors: number
  readonly reusedTokens: number
  readonly measuredRequests: number
}

function series(
  samples: readonly HttpSample[],
  rounds: number,
  pick: (s: HttpSample) => number,
): number[] {
  const out: number[] = new Array(rounds).fill(Number.NaN)
  for (const s of samples) out[s.round] = pick(s)
  return out
}

/** Samples of one (framework, scenario, variant). */
export function samplesOf(
  http: HttpResult,
  f: Framework,
  sc: ScenarioId,
  v: VariantId,
): HttpSample[] {
  return http.samples.filter((s) => s.framework === f && s.scenario === sc && s.variant === v)
}

/** Summary of one (framework, scenario, variant), or undefined if it did not run. */
export function cellOf(
  http: HttpResult,
  f: Framework,
  sc: ScenarioId,
  v: VariantId,
): Cell | undefined {
  const own = samplesOf(http, f, sc, v)
  if (own.length === 0) return undefined
  const rounds = http.options.rounds
  const bare = samplesOf(http, f, sc, 'bare')
  const cpu = series(own, rounds, (s) => s.cpuUsPerReq)
  const rps = series(own, rounds, (s) => s.load.reqPerSec)
  const bareCpu = series(bare, rounds, (s) => s.cpuUsPerReq)
  const bareRps = series(bare, rounds, (s) => s.load.reqPerSec)
  return {
    framework: f,
    scenario: sc,
    variant: v,
    rounds: own.length,
    reqPerSec: summarize(rps),
    p50: summarize(own.map((s) => s.load.p50)),
    p95: summarize(own.map((s) => s.load.p95)),
    p99: summarize(own.map((s) => s.load.p99)),
    cpuUs: summarize(cpu),
    rssBytes: summarize(own.map((s) => s.rssBytes)),
    capacityVsBare: pairedRatio(bareCpu, cpu),
    throughputVsBare: pairedRatio(rps, bareRps),
    extraCpuUs: pairedDelta(cpu, bareCpu),
    non2xx: own.reduce((n, s) => n + s.load.non2xx, 0),
    errors: own.reduce((n, s) => n + s.load.errors, 0),
    reusedTokens: own.reduce((n, s) => n + (s.reusedTokens ?? 0), 0),
    measuredRequests: own.reduce((n, s) => n + s.load.responses, 0),
  }
}

export interface Versus {
  /** other CPU ÷ ours CPU, paired: how many times more requests ours serves on the same CPU. */
  readonly capacity: Summary
  /** ours req/s ÷ other req/s, paired. */
  readonly throughput: Summary
  /** ours CPU − other CPU, paired (µs per request). */
  readonly cpuDelta: Summary
}

/** Ours (or any variant `a`) against another variant `b` in the same framework and scenario. */
export function versus(
  http: HttpResult,
  f: Framework,
  sc: ScenarioId,
  a: VariantId,
  b: VariantId,
): Versus | undefined {
  const sa = samplesOf(http, f, sc, a)
  const sb = samplesOf(http, f, sc, b)
  if (sa.length === 0 || sb.length === 0) return undefined
  const rounds = http.options.rounds
  const ca = series(sa, rounds, (s) => s.cpuUsPerReq)
  const cb = series(sb, rounds, (s) => s.cpuUsPerReq)
  return {
    capacity: pairedRatio(cb, ca),
    throughput: pairedRatio(
      series(sa, rounds, (s) => s.load.reqPerSec),
      series(sb, rounds, (s) => s.load.reqPerSec),
    ),
    cpuDelta: pairedDelta(ca, cb),
  }
}

/** The same variant in two scenarios, paired by round: CPU µs/req of `x` minus `y`, net of bare's own change. */
export function scenarioDelta(
  http: HttpResult,
  f: Framework,
  v: VariantId,
  x: ScenarioId,
  y: ScenarioId,
): Summary | undefined {
  const rounds = http.options.rounds
  const vx = samplesOf(http, f, x, v)
  const vy = samplesOf(http, f, y, v)
  const bx = samplesOf(http, f, x, 'bare')
  const by = samplesOf(http, f, y, 'bare')
  if (!vx.length || !vy.length || !bx.length || !by.length) return undefined
  const bxs = series(bx, rounds, (s) => s.cpuUsPerReq)
  const bys = series(by, rounds, (s) => s.cpuUsPerReq)
  const dx = series(vx, rounds, (s) => s.cpuUsPerReq).map((c, i) => c - (bxs[i] as number))
  const dy = series(vy, rounds, (s) => s.cpuUsPerReq).map((c, i) => c - (bys[i] as number))
  return pairedDelta(dx, dy)
}

/** A micro group by id. */
export function groupOf(micro: MicroResult | undefined, id: string): GroupResult | undefined {
  return micro?.groups.find((g) => g.id === id)
}

/** A contender of a micro group by name prefix. */
export function contenderOf(micro: MicroResult | undefined, id: string, name: string) {
  return groupOf(micro, id)?.contenders.find((c) => c.name === name && !c.skipped)
}

/** Paired ratio of two contenders in one micro group (a ÷ b, per round). */
export function microRatio(
  micro: MicroResult | undefined,
  id: string,
  a: string,
  b: string,
): Summary | undefined {
  const ca = contenderOf(micro, id, a)
  const cb = contenderOf(micro, id, b)
  if (!ca || !cb) return undefined
  return pairedRatio(ca.rounds, cb.rounds)
}
