/**
 * A strict reader of the Prometheus text exposition (format 0.0.4) for tests: every line must be a
 * HELP, a TYPE or a sample of the family announced before it, so that a malformed line fails.
 */

export interface ExposedSample {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}

export interface Exposition {
  /** HELP and TYPE of each family, by name. */
  readonly families: ReadonlyMap<string, { readonly help: string; readonly type: string }>
  readonly samples: readonly ExposedSample[]
  /** The value of the one sample of `name` with exactly `labels`; `undefined` when absent. */
  value(name: string, labels?: Record<string, string>): number | undefined
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)/gy

function parseValue(text: string): number {
  if (text === '+Inf') return Number.POSITIVE_INFINITY
  if (text === '-Inf') return Number.NEGATIVE_INFINITY
  if (text === 'NaN') return Number.NaN
  const value = Number(text)
  if (text.trim() === '' || Number.isNaN(value)) throw new Error(`not a sample value: ${text}`)
  return value
}

function parseLabels(text: string | undefined): Record<string, string> {
  const labels: Record<string, string> = {}
  if (text === undefined || text === '') return labels
  LABEL.lastIndex = 0
  let consumed = 0
  for (let m = LABEL.exec(text); m !== null; m = LABEL.exec(text)) {
    labels[m[1]!] = m[2]!.replaceAll('\\n', '\n').replaceAll('\\"', '"').replaceAll('\\\\', '\\')
    consumed = LABEL.lastIndex
  }
  if (consumed !== text.length) throw new Error(`malformed labels: {${text}}`)
  return labels
}

/**
 * Parses the exposition; throws on a line that is neither a comment of a known kind nor a sample
 * of the current family (histogram series `_bucket`, `_sum`, `_count` included).
 *
 * @example
 * const exposed = parseExposition(prometheusText(metrics))
 * exposed.value('authframework_subscription_up', { component: 'revocation' }) // 1
 */
export function parseExposition(text: string): Exposition {
  const families = new Map<string, { help: string; type: string }>()
  const samples: ExposedSample[] = []
  let current: string | undefined
  for (const line of text.split('\n')) {
    if (line === '') continue
    const help = /^# HELP (\S+) (.+)$/.exec(line)
    if (help !== null) {
      families.set(help[1]!, { help: help[2]!, type: '' })
      current = help[1]!
      continue
    }
    const type = /^# TYPE (\S+) (counter|gauge|histogram|summary|untyped)$/.exec(line)
    if (type !== null && current !== undefined && type[1] === current) {
      families.get(current)!.type = type[2]!
      continue
    }
    const sample = SAMPLE.exec(line)
    if (sample === null) throw new Error(`not an exposition line: ${line}`)
    const name = sample[1]!
    const base = name.replace(/_(bucket|sum|count)$/, '')
    if (name !== current && !(base === current && families.get(current)?.type === 'histogram')) {
      throw new Error(`sample ${name} outside its family (current: ${current})`)
    }
    samples.push({ name, labels: parseLabels(sample[2]), value: parseValue(sample[3]!) })
  }
  return {
    families,
    samples,
    value(name, labels = {}) {
      const wanted = JSON.stringify(Object.entries(labels).sort())
      const found = samples.filter(
        (s) => s.name === name && JSON.stringify(Object.entries(s.labels).sort()) === wanted,
      )
      if (found.length > 1) throw new Error(`${found.length} samples of ${name} ${wanted}`)
      return found[0]?.value
    },
  }
}

/**
 * Scrapes every `intervalMs` (20) until each condition has held at least once, and resolves the
 * milliseconds from the call to the first scrape where each held. `observe` sees every scrape (to
 * record the largest value of a gauge, say). Rejects, naming the conditions never seen, after
 * `timeoutMs`. Poll with a deadline, never sleep for a state.
 *
 * @example
 * proxy.blackhole()
 * const seen = await firstSeen(() => prometheusText(metrics), {
 *   down: (e) => e.value('authframework_subscription_up', { component: 'revocation' }) === 0,
 * }, 4000)
 * seen.down // e.g. 2019
 */
export async function firstSeen<K extends string>(
  scrape: () => string,
  conditions: Record<K, (exposed: Exposition) => boolean>,
  timeoutMs: number,
  observe: (exposed: Exposition) => void = () => {},
  intervalMs = 20,
): Promise<Record<K, number>> {
  const start = performance.now()
  const seen: Partial<Record<K, number>> = {}
  const names = Object.keys(conditions) as K[]
  for (;;) {
    const exposed = parseExposition(scrape())
    const at = performance.now() - start
    observe(exposed)
    for (const name of names) {
      if (seen[name] === undefined && conditions[name](exposed)) seen[name] = at
    }
    if (names.every((name) => seen[name] !== undefined)) return seen as Record<K, number>
    if (at > timeoutMs) {
      const missing = names.filter((name) => seen[name] === undefined)
      throw new Error(`not seen within ${timeoutMs} ms: ${missing.join(', ')}`)
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs))
  }
}
