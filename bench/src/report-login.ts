/** The report's login section: throughput and latency per core, and what 1,000 logins/s takes. */
import type { LoginKind, LoginResult, LoginSample, SweepRow } from './login/child.js'
import { h, table } from './report.js'
import { fmt, median, pairedDelta, pairedRatio, summarize } from './stats.js'
import { type BarChart, PALETTE } from './svg.js'

/** The design document's CPU target: under 70 % on average. */
const UTILIZATION = 0.7
const TARGET = 1000
const OWASP =
  'https://cheatsheetseries.owasp.org/cheatsheets/Password_Storage_Cheat_Sheet.html#argon2id'
const RFC9106 = 'https://www.rfc-editor.org/rfc/rfc9106#section-4'

type Chart = (file: string, chart: BarChart, alt: string) => string

/** Per run kind, over rounds: logins/s, per core, p50, p99, CPU ms, PostgreSQL CPU ms. */
function figures(samples: readonly LoginSample[]) {
  const of = (f: (s: LoginSample) => number) => summarize(samples.map(f))
  return {
    rate: of((s) => s.calls / s.wallS),
    perCore: of((s) => s.calls / s.wallS / s.inFlight),
    p50: of((s) => s.p50Ms),
    p99: of((s) => s.p99Ms),
    cpu: of((s) => s.cpuUs / 1000),
    pg: of((s) => s.pgCpuUs / 1000),
  }
}

export function loginSection(l: LoginResult, chart: Chart): string[] {
  const cpuOf = (kind: LoginKind) =>
    l.samples.filter((s) => s.kind === kind).map((s) => s.cpuUs / 1000)
  const [floor, one, all] = (['floor', 'one', 'all'] as const).map((k) =>
    figures(l.samples.filter((s) => s.kind === k)),
  )
  if (!floor || !one || !all) return []
  // The rest of a login (limiter, queries, audit row), paired within a round, one at a time.
  const rest = pairedDelta(cpuOf('one'), cpuOf('floor'))
  const cores = (ms: number) => Math.ceil((TARGET * ms) / 1000 / UTILIZATION)
  const cpu = (p: SweepRow) => median(p.cpuMs)
  const ours = l.sweep[0] as SweepRow
  // A login at other parameters: ours' login with all cores busy, that set's verification in place of ours'.
  const loginMs = (p: SweepRow) => all.cpu.median - cpu(ours) + cpu(p)
  const perCore = (p: SweepRow) => 1000 / loginMs(p)
  const withoutHash = all.cpu.median - cpu(ours)
  const work = (p: SweepRow) => (p.memoryKiB * p.iterations) / (ours.memoryKiB * ours.iterations)
  const row = (label: string, f: typeof all, pg: boolean) =>
    [label, fmt(f.rate, 0), fmt(f.perCore, 0), fmt(f.p50, 1), fmt(f.p99, 1), fmt(f.cpu, 2)].concat(
      pg ? fmt(f.pg, 2) : '—',
    )
  const sweepRows = l.sweep.map((p) => [
    p.label,
    `m=${p.memoryKiB}, t=${p.iterations}, p=${p.parallelism}`,
    work(p).toFixed(2),
    fmt(summarize(p.cpuMs), 2),
    fmt(pairedRatio(p.cpuMs, ours.cpuMs), 2),
    median(p.wallMs).toFixed(1),
    perCore(p).toFixed(0),
    String(cores(loginMs(p))),
  ])
  const owasp = l.sweep.filter((p) => p !== ours && p.label.startsWith('OWASP'))
  const cheapest = owasp.sort((a, b) => cpu(a) - cpu(b))[0] ?? ours
  const rfc = l.sweep.find((p) => p.label.startsWith('RFC 9106'))
  const below = l.sweep.filter((p) => p.label.startsWith('below'))
  const pgCores = (TARGET * all.pg.median) / 1000 / UTILIZATION
  const out = [
    '## Login: `authenticateUser` at the chosen Argon2id parameters',
    '',
    `\`createLogin({ pool, limiter, hasher })\` as a server makes it: the rate limiter counting in Redis, the user’s row, one Argon2id verification at m=${l.params.memoryKiB} KiB, t=${l.params.iterations}, p=${l.params.parallelism} (the core’s \`OWASP_ARGON2ID\`; @node-rs/argon2 ${l.argon2}), \`last_login\`, an \`audit_log\` row and the permissions in PostgreSQL. Every login succeeds, for one of 200 users, each from its own address. “CPU per login”: this process (all threads: Argon2 runs on libuv’s pool) and PostgreSQL (the pool’s backends, read from \`/proc\`). Redis, PostgreSQL and the other tenants share the ${l.cores} cores, so logins/s understate a dedicated core; the CPU per login does not. ${l.samples.length / 3} rounds in rotating order, median (min–max).`,
    '',
    table(h('run|logins/s|per core|p50 ms|p99 ms|CPU per login, ms|PostgreSQL CPU, ms'), [
      row('floor: the bare Argon2 verification, one at a time', floor, false),
      row('login, one at a time', one, true),
      row(`login, all ${l.cores} cores busy (the hasher’s default)`, all, true),
    ]),
    '',
    `A login is ×${fmt(pairedRatio(cpuOf('one'), cpuOf('floor')), 2)} its Argon2 verification in CPU: the rest (the limiter’s two Redis scripts, four queries, the audit row) costs ${fmt(rest, 2)} ms, paired within a round.`,
    '',
    '### What 1,000 logins/s takes',
    '',
    `**More cores, same parameters.** At ${all.cpu.median.toFixed(2)} ms of CPU per login, with all cores busy, one core serves about ${(1000 / all.cpu.median).toFixed(0)} logins/s: 1,000/s needs **${cores(all.cpu.median)} cores at the design’s 70 % CPU ceiling** (${Math.ceil(all.cpu.median)} fully busy), and about ${pgCores.toFixed(1)} more for PostgreSQL. Logins spread over cores (the hasher runs one verification per core) and over instances (they share the limiter in Redis). The latency target holds while the cores keep up: p50 ${all.p50.median.toFixed(1)} ms with every core busy here (target < 50 ms).`,
    '',
    `**Another configuration of equal defense.** OWASP lists five Argon2id configurations that it rates equal, trading memory for passes ([Password Storage Cheat Sheet](${OWASP})); ours is its 19 MiB, t=2. On this CPU the cheapest of the others, ${cheapest.label}, costs ×${fmt(pairedRatio(cheapest.cpuMs, ours.cpuMs), 2)} ours: with it 1,000/s needs about ${cores(loginMs(cheapest))} cores instead of ${cores(all.cpu.median)}, at no cost in defense by OWASP’s measure. Such a saving depends on the CPU (its caches): measure on the production hardware before switching. [RFC 9106 §4](${RFC9106}) recommends more, not less${rfc ? `: its second option (64 MiB, t=3, p=4) costs ×${(cpu(rfc) / cpu(ours)).toFixed(0)} ours` : ''}; its first (2 GiB, t=1, p=4) was not measured.`,
    '',
    `**Lower parameters.** Below OWASP’s minimum every set is cheaper to serve and cheaper to attack by about as much: an offline guess against a stolen hash costs roughly the memory it fills times the passes over it (m × t)${below.length ? `; ${below.map((p) => `${p.label} makes each guess ≈ ${(1 / work(p)).toFixed(0)}× cheaper`).join(', ')}` : ''}. And the rest of a login caps what it can buy: even with a free hash (${withoutHash.toFixed(2)} ms of CPU per login with all cores busy) one core serves at most ${(1000 / withoutHash).toFixed(0)} logins/s, so 1,000/s needs at least ${cores(withoutHash)} cores at 70 % whatever the parameters. Cores keep the defense; lower parameters give it away for little.`,
    '',
    table(
      h(
        `parameters|Argon2id|m × t vs ours|CPU ms per verification|CPU ÷ ours|wall ms|logins/s per core|cores for ${TARGET.toLocaleString('en')}/s at 70 %`,
      ),
      sweepRows,
    ),
    '',
    `Each set is verified one at a time, the sets in rotating order, ${ours.cpuMs.length} rounds. “logins/s per core” and “cores” take ours’ login with all cores busy (${all.cpu.median.toFixed(2)} ms) and put each set’s verification in place of ours’ (${cpu(ours).toFixed(2)} ms).`,
    '',
  ]
  const perCoreChart: BarChart = {
    title: 'Logins/s per core by Argon2id parameters (the rest of a login included)',
    subtitle: `1000 ÷ (CPU ms per verification + ${withoutHash.toFixed(2)} ms for the rest of a login, all cores busy).`,
    axisLabel: 'logins/s per core (higher: cheaper to serve, and to attack)',
    series: [
      { name: 'ours', color: PALETTE[0] },
      { name: 'other', color: PALETTE[6] },
    ],
    groups: l.sweep.map((p) => ({
      label: p.label,
      bars: [{ series: p === ours ? 'ours' : 'other', value: perCore(p) }],
    })),
    scale: 'log',
    refLines: [{ value: TARGET, label: '1,000/s on one core' }],
    format: (x) => x.toFixed(0),
    width: 940,
  }
  out.push(chart('login-per-core.svg', perCoreChart, 'Logins per core by parameters'))
  return out
}
