import { INFRASTRUCTURE_METRICS, infrastructureFamilies } from './health-prometheus.js'
import type { AuthMetrics, Timing } from './metrics.js'

/** Histogram bucket bounds, in seconds: from 5 µs (a cached verification) to 10 s. */
export const PROMETHEUS_BUCKETS = [
  0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
  0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
] as const

const HISTOGRAMS: readonly [Timing, string, string][] = [
  ['authenticate', 'authframework_authenticate_duration_seconds', 'The whole authentication step.'],
  [
    'verify',
    'authframework_verify_duration_seconds',
    'Signature verification and claim checks (cache misses).',
  ],
  ['permissions', 'authframework_permission_lookup_duration_seconds', 'Permission store lookups.'],
  ['redis', 'authframework_redis_duration_seconds', 'Redis calls made by the stores.'],
  ['postgres', 'authframework_postgres_duration_seconds', 'PostgreSQL calls made by the stores.'],
]

/** One sample of a family: its labels and value (`metricName` for a histogram's series). */
export interface MetricSample {
  readonly metricName?: string
  readonly labels: Record<string, string | number>
  readonly value: number
}

/** One metric family as prom-client's `get()` returns it. */
export interface MetricFamily {
  readonly name: string
  readonly help: string
  readonly type: 'counter' | 'gauge' | 'histogram'
  readonly values: MetricSample[]
}

/**
 * Every metric family, read from one snapshot at scrape time (recording never touches this): the
 * counters and histograms, then the gauges of the components given to `metrics.watch`.
 */
export function metricFamilies(metrics: AuthMetrics): MetricFamily[] {
  const snap = metrics.snapshot()
  const families: MetricFamily[] = [
    {
      name: 'authframework_authentications_total',
      help: 'Authentications by outcome: ok, anonymous, or the error code.',
      type: 'counter',
      values: Object.entries(snap.authentications).map(([outcome, value]) => ({
        labels: { outcome },
        value,
      })),
    },
    {
      name: 'authframework_logins_total',
      help: 'Logins by outcome: ok, or the code of the answer (too_many_attempts for a 429).',
      type: 'counter',
      values: Object.entries(snap.logins).map(([outcome, value]) => ({
        labels: { outcome },
        value,
      })),
    },
    {
      name: 'authframework_verification_cache_total',
      help: 'Verification cache lookups by result.',
      type: 'counter',
      values: [
        { labels: { result: 'hit' }, value: snap.verificationCache.hits },
        { labels: { result: 'miss' }, value: snap.verificationCache.misses },
      ],
    },
    {
      name: 'authframework_layer_lookups_total',
      help: 'Permission and session cache layer lookups by layer and result.',
      type: 'counter',
      values: Object.entries(snap.layers).flatMap(([layer, c]) => [
        { labels: { layer, result: 'hit' }, value: c.hits },
        { labels: { layer, result: 'miss' }, value: c.misses },
      ]),
    },
    {
      name: 'authframework_decisions_total',
      help: 'Route guard decisions, by the permissions the guard requires.',
      type: 'counter',
      values: Object.entries(snap.decisions).flatMap(([guard, c]) => [
        { labels: { guard, decision: 'allow' }, value: c.allow },
        { labels: { guard, decision: 'deny' }, value: c.deny },
      ]),
    },
    {
      name: 'authframework_infrastructure_errors_total',
      help: 'Failures of a dependency that made a request fail closed (503).',
      type: 'counter',
      values: Object.entries(snap.infrastructureErrors).map(([dependency, value]) => ({
        labels: { dependency },
        value,
      })),
    },
  ]
  for (const [timing, name, help] of HISTOGRAMS) {
    const counts = metrics.buckets(timing, PROMETHEUS_BUCKETS)
    const { count, sum } = snap.latency[timing]
    families.push({
      name,
      help,
      type: 'histogram',
      values: [
        ...PROMETHEUS_BUCKETS.map((le, i) => ({
          metricName: `${name}_bucket`,
          labels: { le },
          value: counts[i]!,
        })),
        { metricName: `${name}_bucket`, labels: { le: '+Inf' }, value: count },
        { metricName: `${name}_sum`, labels: {}, value: sum },
        { metricName: `${name}_count`, labels: {}, value: count },
      ],
    })
  }
  families.push(...infrastructureFamilies(snap.infrastructure))
  return families
}

function escapeLabel(value: string | number): string {
  return String(value).replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('\n', '\\n')
}

/** A sample value as the exposition format writes it (`+Inf`, `-Inf`, `NaN`). */
function formatValue(value: number): string {
  if (value === Number.POSITIVE_INFINITY) return '+Inf'
  if (value === Number.NEGATIVE_INFINITY) return '-Inf'
  return String(value)
}

/**
 * The Prometheus text exposition (format 0.0.4) of the metrics, for a `/metrics` route that needs
 * no dependency. Content type: `text/plain; version=0.0.4; charset=utf-8`.
 *
 * @example
 * app.get('/metrics', (_req, res) => res.type('text/plain').send(prometheusText(metrics)))
 */
export function prometheusText(metrics: AuthMetrics): string {
  let out = ''
  for (const family of metricFamilies(metrics)) {
    out += `# HELP ${family.name} ${family.help}\n# TYPE ${family.name} ${family.type}\n`
    for (const sample of family.values) {
      const labels = Object.entries(sample.labels)
        .map(([k, v]) => `${k}="${escapeLabel(v)}"`)
        .join(',')
      out += `${sample.metricName ?? family.name}${labels ? `{${labels}}` : ''} ${formatValue(sample.value)}\n`
    }
  }
  return out
}

/** The part of a prom-client `Registry` used here. */
export interface PromRegistry {
  registerMetric(metric: { name: string; get(): unknown }): void
}

/**
 * Registers the metrics with a prom-client registry (prom-client is an optional peer dependency;
 * nothing of it is imported). Values are read from the snapshot at scrape time.
 *
 * @example
 * import { register } from 'prom-client'
 * registerPrometheusMetrics(register, metrics)
 */
export function registerPrometheusMetrics(registry: PromRegistry, metrics: AuthMetrics): void {
  // every infrastructure family too, so that components watched after this call are scraped
  const families = metricFamilies(metrics)
  const known = new Set(families.map((f) => f.name))
  for (const { name, help, type } of [
    ...families,
    ...INFRASTRUCTURE_METRICS.filter((meta) => !known.has(meta.name)),
  ]) {
    registry.registerMetric({
      name,
      get: async () => {
        const family = metricFamilies(metrics).find((f) => f.name === name)
        return { name, help, type, values: family?.values ?? [], aggregator: 'sum' }
      },
    })
  }
}
