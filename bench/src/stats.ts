/** Small, dependency-free statistics shared by every part of the benchmark. */

/** Linear-interpolated quantile of an ascending array, `q` in [0, 1]. */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length
  if (n === 0) return Number.NaN
  const pos = (n - 1) * q
  const lo = sorted[Math.floor(pos)] as number
  const hi = sorted[Math.ceil(pos)] as number
  return lo + (hi - lo) * (pos - Math.floor(pos))
}

/** Linear-interpolated quantile; does not modify its input. */
export function quantile(values: readonly number[], q: number): number {
  return quantileSorted(
    [...values].sort((a, b) => a - b),
    q,
  )
}

export const median = (values: readonly number[]): number => quantile(values, 0.5)

/** A central value with its spread over repeated rounds. */
export interface Summary {
  readonly median: number
  readonly min: number
  readonly max: number
  /** Number of rounds that gave a value. */
  readonly n: number
}

/** Median, min and max of repeated measurements (non-finite values left out). */
export function summarize(values: readonly number[]): Summary {
  const finite = values.filter(Number.isFinite)
  if (finite.length === 0) return { median: Number.NaN, min: Number.NaN, max: Number.NaN, n: 0 }
  return {
    median: median(finite),
    min: Math.min(...finite),
    max: Math.max(...finite),
    n: finite.length,
  }
}

function paired(a: readonly number[], b: readonly number[], f: (x: number, y: number) => number) {
  const out: number[] = []
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i] as number
    const y = b[i] as number
    if (Number.isFinite(x) && Number.isFinite(y) && y !== 0) out.push(f(x, y))
  }
  return summarize(out)
}

/** a[i] ÷ b[i] for each round, summarised: ratios are taken within a round. */
export const pairedRatio = (a: readonly number[], b: readonly number[]): Summary =>
  paired(a, b, (x, y) => x / y)

/** a[i] − b[i] for each round, summarised. */
export const pairedDelta = (a: readonly number[], b: readonly number[]): Summary =>
  paired(a, b, (x, y) => x - y)

/**
 * The order in which items run in a given round: rotated by the round number and reversed on odd
 * rounds, so that no item always runs first (cold) or right after the same neighbour.
 */
export function roundOrder<T>(items: readonly T[], round: number): T[] {
  const n = items.length
  if (n === 0) return []
  const shift = round % n
  const rotated = [...items.slice(shift), ...items.slice(0, shift)]
  return round % 2 === 1 ? rotated.reverse() : rotated
}

/** "12.3 (11.8–13.0)": the median with the min–max over rounds. */
export function fmt(s: Summary | undefined, digits = 1, unit = ''): string {
  if (!s || s.n === 0 || !Number.isFinite(s.median)) return 'n/a'
  const f = (v: number) => v.toFixed(digits)
  return `${f(s.median)}${unit}${s.n > 1 ? ` (${f(s.min)}–${f(s.max)})` : ''}`
}

/** Like {@link fmt}, with a sign: "+3.1 µs (−0.4 to +6.0)". */
export function fmtSigned(s: Summary | undefined, digits = 1, unit = ''): string {
  if (!s || s.n === 0 || !Number.isFinite(s.median)) return 'n/a'
  const f = (v: number) => `${v >= 0 ? '+' : '−'}${Math.abs(v).toFixed(digits)}`
  return `${f(s.median)}${unit}${s.n > 1 ? ` (${f(s.min)} to ${f(s.max)})` : ''}`
}
