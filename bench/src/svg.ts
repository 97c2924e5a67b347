/**
 * A small, dependency-free SVG renderer: horizontal grouped bar charts with optional whiskers
 * (min–max over rounds), reference lines, a legend and a linear or logarithmic axis. Output is
 * deterministic for a given input, so charts diff cleanly between runs.
 */

export interface Bar {
  /** Series name; must match one of the chart's `series`. */
  readonly series: string
  readonly value: number
  /** Optional whisker: spread over rounds. */
  readonly lo?: number
  readonly hi?: number
}

export interface BarGroup {
  readonly label: string
  readonly bars: readonly Bar[]
}

export interface BarChart {
  readonly title: string
  readonly subtitle?: string
  /** Axis caption, e.g. "× of bare (higher is better)". */
  readonly axisLabel: string
  readonly series: readonly { readonly name: string; readonly color: string }[]
  readonly groups: readonly BarGroup[]
  readonly scale?: 'linear' | 'log'
  readonly refLines?: readonly { readonly value: number; readonly label: string }[]
  /** Formats the value printed at the end of each bar. */
  readonly format?: (value: number) => string
  readonly width?: number
  /** Bars start here instead of at the axis origin (e.g. 1 for ratios to a floor). */
  readonly baseline?: number
}

/** Colours that stay distinguishable in print and for common colour-vision deficiencies. */
export const PALETTE = [
  '#1b6ca8',
  '#e07b00',
  '#3a9a4a',
  '#b8433f',
  '#7a5aa6',
  '#8c6d31',
  '#5f6b73',
] as const

const FONT = 'font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif"'

/** Escapes text for use in SVG/XML content and attributes. */
export function escapeXml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;')
}

const r1 = (n: number) => Math.round(n * 10) / 10

/** "Nice" linear ticks (1, 2, 5 × 10^k) covering [0, max]. */
export function linearTicks(max: number, target = 6): number[] {
  if (!(max > 0)) return [0, 1]
  const raw = max / target
  const mag = 10 ** Math.floor(Math.log10(raw))
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag
  const ticks: number[] = []
  for (let v = 0; v <= max + step * 0.999; v += step) ticks.push(Number(v.toPrecision(12)))
  return ticks
}

/** Logarithmic ticks (1, 2, 5 × 10^k when the range is short) from the decade below `min` to the one above `max`. */
export function logTicks(min: number, max: number): number[] {
  const lo = Math.floor(Math.log10(min))
  const hi = Math.max(lo + 1, Math.ceil(Math.log10(max)))
  const mults = hi - lo <= 2 ? [1, 2, 5] : [1]
  const ticks: number[] = []
  for (let e = lo; e <= hi; e++) {
    for (const m of mults) {
      if (e === hi && m > 1) break
      ticks.push(Number((m * 10 ** e).toPrecision(12)))
    }
  }
  return ticks
}

function tickLabel(v: number): string {
  if (v === 0) return '0'
  if (Math.abs(v) >= 1000) return `${Number((v / 1000).toPrecision(3))}k`
  return String(Number(v.toPrecision(3)))
}

/** Renders a horizontal grouped bar chart to an SVG string. */
export function renderBarChart(chart: BarChart): string {
  const width = chart.width ?? 880
  const labelW = 230
  const valueW = 64
  const plotX = labelW
  const plotW = width - labelW - valueW - 16
  const barH = 13
  const barGap = 3
  const groupGap = 14
  const format = chart.format ?? ((v: number) => tickLabel(v))
  const seriesIndex = new Map(chart.series.map((s, i) => [s.name, i]))

  // Header: title, subtitle, legend (wrapped).
  const out = [
    `<text x="12" y="24" font-size="16" font-weight="600">${escapeXml(chart.title)}</text>`,
  ]
  let y = chart.subtitle ? 42 : 24
  if (chart.subtitle)
    out.push(`<text x="12" y="${y}" font-size="12" fill="#555">${escapeXml(chart.subtitle)}</text>`)
  y += 22
  let lx = 12
  for (const s of chart.series) {
    const w = 22 + s.name.length * 6.6
    if (lx + w > width - 12) {
      lx = 12
      y += 18
    }
    out.push(`<rect x="${r1(lx)}" y="${y - 10}" width="12" height="12" fill="${s.color}"/>`)
    out.push(`<text x="${r1(lx + 16)}" y="${y}" font-size="12">${escapeXml(s.name)}</text>`)
    lx += w + 10
  }
  y += 16
  const plotTop = y

  // Scale.
  const log = chart.scale === 'log'
  const values = chart.groups.flatMap((g) => g.bars.flatMap((b) => [b.value, b.hi ?? 0, b.lo ?? 0]))
  const refs = (chart.refLines ?? []).map((r) => r.value)
  const finite = [...values, ...refs].filter((v) => Number.isFinite(v) && (!log || v > 0))
  const vmax = finite.length ? Math.max(...finite) : 1
  const vmin = log ? (finite.length ? Math.min(...finite) : 1) : 0
  const ticks = log ? logTicks(vmin, vmax) : linearTicks(vmax * 1.05)
  const t0 = ticks[0] as number
  const t1 = ticks[ticks.length - 1] as number
  const [a, b] = [Math.log10(t0), Math.log10(t1)]
  const x = (v: number): number =>
    log
      ? plotX + ((Math.log10(Math.max(v, t0)) - a) / (b - a)) * plotW
      : plotX + (Math.max(0, v) / t1) * plotW

  // Groups and bars.
  const body: string[] = []
  let gy = plotTop + 6
  for (const g of chart.groups) {
    const h = g.bars.length * (barH + barGap) - barGap
    body.push(
      `<text x="${plotX - 8}" y="${r1(gy + h / 2 + 4)}" font-size="12" text-anchor="end">${escapeXml(g.label)}</text>`,
    )
    g.bars.forEach((b, i) => {
      const by = gy + i * (barH + barGap)
      const color = chart.series[seriesIndex.get(b.series) ?? 0]?.color ?? PALETTE[0]
      if (!Number.isFinite(b.value)) {
        body.push(
          `<text x="${plotX + 4}" y="${r1(by + barH - 3)}" font-size="11" fill="#888">n/a</text>`,
        )
        return
      }
      const x1 = x(b.value)
      const x0 = chart.baseline === undefined ? plotX : x(chart.baseline)
      body.push(
        `<rect x="${r1(Math.min(x0, x1))}" y="${r1(by)}" width="${r1(Math.max(0.5, Math.abs(x1 - x0)))}" height="${barH}" fill="${color}"><title>${escapeXml(`${g.label} — ${b.series}: ${format(b.value)}`)}</title></rect>`,
      )
      const whisker = Number.isFinite(b.lo) && Number.isFinite(b.hi)
      if (b.lo !== undefined && b.hi !== undefined && whisker) {
        const xl = x(b.lo)
        const xh = x(b.hi)
        const cy = r1(by + barH / 2)
        body.push(
          `<path d="M${r1(xl)} ${cy}H${r1(xh)}M${r1(xl)} ${r1(by + 3)}V${r1(by + barH - 3)}M${r1(xh)} ${r1(by + 3)}V${r1(by + barH - 3)}" stroke="#222" stroke-width="1"/>`,
        )
      }
      const tx = Math.max(x1, b.hi !== undefined && whisker ? x(b.hi) : x1) + 4
      body.push(
        `<text x="${r1(tx)}" y="${r1(by + barH - 3)}" font-size="11">${escapeXml(format(b.value))}</text>`,
      )
    })
    gy += h + groupGap
  }
  const plotBottom = gy - groupGap + 6

  // Axis, grid, reference lines.
  const grid: string[] = []
  for (const t of ticks) {
    const tx = r1(x(t))
    grid.push(`<line x1="${tx}" y1="${plotTop}" x2="${tx}" y2="${plotBottom}" stroke="#e4e4e4"/>`)
    grid.push(
      `<text x="${tx}" y="${plotBottom + 14}" font-size="11" text-anchor="middle" fill="#444">${tickLabel(t)}</text>`,
    )
  }
  grid.push(`<line x1="${plotX}" y1="${plotTop}" x2="${plotX}" y2="${plotBottom}" stroke="#888"/>`)
  const refLines = chart.refLines ?? []
  refLines.forEach((ref, i) => {
    if (!Number.isFinite(ref.value)) return
    const rx = r1(x(ref.value))
    grid.push(
      `<line x1="${rx}" y1="${plotTop - 2}" x2="${rx}" y2="${plotBottom}" stroke="#b8433f" stroke-dasharray="4 3"/>`,
    )
    // Labels sit under the axis, staggered, so that close lines do not overprint each other.
    grid.push(
      `<text x="${rx}" y="${plotBottom + 26 + i * 11}" font-size="10" text-anchor="middle" fill="#b8433f">${escapeXml(ref.label)}</text>`,
    )
  })
  const axisY = plotBottom + 40 + refLines.length * 11
  grid.push(
    `<text x="${r1(plotX + plotW / 2)}" y="${axisY}" font-size="12" text-anchor="middle" fill="#333">${escapeXml(chart.axisLabel)}${log ? ' (log scale)' : ''}</text>`,
  )
  const height = Math.ceil(axisY + 12)
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${FONT}>`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    ...out,
    ...grid,
    ...body,
    '</svg>',
    '',
  ].join('\n')
}
