/** Small, dependency-free statistics used by every part of the benchmark. */

/** Median of a list of numbers (NaN for an empty list). */
export function median(values: readonly number[]): number {
  return quantile(values, 0.5)
}

/** Linear-interpolated quantile, `q` in [0, 1]. Does not modify its input. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  return quantileSorted(sorted, q)
}

/** Quantile of an already sorted array-like (ascending). */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length
  if (n === 0) return Number.NaN
  const pos = (n - 1) * q
  const lo = Math.floor(pos)
  const hi = Math.ceil(pos)
  const a = sorted[lo] as number
  const b = sorted[hi] as number
  return a + (b - a) * (pos - lo)
}

/** A central value with its spread over repeated rounds. */
export interface Summary {
  /** Median over rounds. */
  readonly median: number
  /** Smallest and largest round. */
  readonly min: number
  readonly max: number
  /** Number of rounds. */
  readonly n: number
}

/** Median, min and max of repeated measurements. */
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

/** Half the min–max range relative to the median, in percent: a blunt, honest spread. */
export function spreadPercent(s: Summary): number {
  if (!(s.median > 0)) return Number.NaN
  return ((s.max - s.min) / 2 / s.median) * 100
}

/** Element-wise ratio of two paired series (same round index), summarised. */
export function pairedRatio(numerator: readonly number[], denominator: readonly number[]): Summary {
  const ratios: number[] = []
  const n = Math.min(numerator.length, denominator.length)
  for (let i = 0; i < n; i++) {
    const a = numerator[i] as number
    const b = denominator[i] as number
    if (Number.isFinite(a) && Number.isFinite(b) && b !== 0) ratios.push(a / b)
  }
  return summarize(ratios)
}

/** Element-wise difference of two paired series, summarised. */
export function pairedDelta(a: readonly number[], b: readonly number[]): Summary {
  const deltas: number[] = []
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    const x = a[i] as number
    const y = b[i] as number
    if (Number.isFinite(x) && Number.isFinite(y)) deltas.push(x - y)
  }
  return summarize(deltas)
}

/**
 * The order in which contenders run in a given round: rotated by the round number and reversed
 * on odd rounds, so that no contender always runs first (cold) or right after the same neighbour.
 */
export function roundOrder<T>(items: readonly T[], round: number): T[] {
  const n = items.length
  if (n === 0) return []
  const shift = round % n
  const rotated = [...items.slice(shift), ...items.slice(0, shift)]
  return round % 2 === 1 ? rotated.reverse() : rotated
}

/** A growable Float64 buffer for per-request latencies (no JS array of boxed numbers). */
export interface SampleBuffer {
  push(value: number): void
  readonly length: number
  /** A sorted copy of the samples. */
  sorted(): Float64Array
}

/** Creates an empty {@link SampleBuffer}. */
export function createSampleBuffer(initialCapacity = 1 << 16): SampleBuffer {
  let data = new Float64Array(initialCapacity)
  let size = 0
  return {
    push(value) {
      if (size === data.length) {
        const next = new Float64Array(data.length * 2)
        next.set(data)
        data = next
      }
      data[size++] = value
    },
    get length() {
      return size
    },
    sorted() {
      return data.slice(0, size).sort()
    },
  }
}
