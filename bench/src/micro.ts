/**
 * Micro-benchmarks of the core against the floor and its peers, one call at a time.
 *
 * A hand-rolled harness rather than mitata's runner, because the comparisons we need are paired:
 * every round runs every contender of a group once, in an order that rotates and reverses from
 * round to round, and ratios are taken within a round before taking the median across rounds.
 */
import { hrtime } from 'node:process'
import { jwtVerify } from 'jose'
import jsonwebtoken from 'jsonwebtoken'
import { createFloorCache, createFloorVerifier, decodeCompressedFloor } from './floor.js'
import { runMetricsCost, runSigning } from './micro-extra.js'
import { runStoreLookups } from './micro-store.js'
import { authenticateRunner, DEFAULT_CACHE, loadCore, type OursCore, oursOptions } from './ours.js'
import { fastJwt } from './peers.js'
import { pairedRatio, roundOrder, type Summary, summarize } from './stats.js'
import {
  ALGORITHMS,
  type Algorithm,
  AUDIENCE,
  compressToken,
  generateKeyMaterial,
  ISSUER,
  type KeyMaterial,
  signTokens,
} from './tokens.js'

export type Role = 'floor' | 'ours' | 'peer' | 'reference'

export interface Contender {
  readonly name: string
  readonly role: Role
  readonly tokens: readonly string[]
  /** Sync contenders run in a plain loop; async ones are awaited one call at a time. */
  readonly run: (token: string) => unknown
  readonly async: boolean
  /** Pulls `sub` out of whatever the contender returns, for the correctness check. */
  readonly subOf: (result: unknown) => unknown
  /** Runs once before calibration (fills a cache). */
  readonly prime?: () => void | Promise<void>
  /** Called around every timed batch, outside the timing (e.g. attach a diagnostics subscriber). */
  readonly enter?: () => void
  readonly exit?: () => void
}

export interface ContenderResult {
  readonly name: string
  readonly role: Role
  /** µs per operation, one value per round. */
  readonly rounds: readonly number[]
  readonly us: Summary
  /** Paired ratio to the group's baseline (the floor unless stated). */
  readonly vsBaseline: Summary
  readonly skipped?: string
}

export interface GroupResult {
  readonly id: string
  readonly title: string
  readonly note: string
  readonly baseline: string
  readonly contenders: readonly ContenderResult[]
}

export interface MicroOptions {
  readonly rounds: number
  readonly sampleMs: number
  readonly warmupMs: number
  readonly poolSize: number
  readonly log: (line: string) => void
}

export interface MicroResult {
  readonly options: Omit<MicroOptions, 'log'>
  readonly oursStatus: string
  readonly groups: readonly GroupResult[]
}

/** Sub-batches per round and contender; the fastest one is the round's sample. */
const SUB_BATCHES = 4

/** Results land here so the optimiser cannot drop a call whose result is unused. */
let sink = 0

export const payloadSub = (r: unknown) => (r as { sub?: unknown }).sub
const joseSub = (r: unknown) => (r as { payload: { sub?: unknown } }).payload.sub

async function timeBatch(c: Contender, k: number, offset: number): Promise<number> {
  const { tokens, run } = c
  const n = tokens.length
  let ok = 0
  c.enter?.()
  const t0 = hrtime.bigint()
  if (c.async) {
    for (let i = 0; i < k; i++) if (await run(tokens[(offset + i) % n] as string)) ok++
  } else {
    for (let i = 0; i < k; i++) if (run(tokens[(offset + i) % n] as string)) ok++
  }
  const ns = Number(hrtime.bigint() - t0)
  c.exit?.()
  sink += ok
  return ns
}

async function check(c: Contender): Promise<string | undefined> {
  try {
    await c.prime?.()
    const token = c.tokens[0] as string
    c.enter?.()
    let result: unknown
    try {
      result = await c.run(token)
    } finally {
      c.exit?.()
    }
    const sub = c.subOf(result)
    if (typeof sub !== 'string' || !sub.startsWith('user-'))
      return `returned an unexpected result (sub=${String(sub)})`
    return undefined
  } catch (error) {
    return `failed its correctness check: ${error instanceof Error ? error.message : String(error)}`
  }
}

export async function runGroup(
  id: string,
  title: string,
  note: string,
  contenders: readonly Contender[],
  skipped: readonly { name: string; role: Role; reason: string }[],
  opts: MicroOptions,
): Promise<GroupResult> {
  const live: Contender[] = []
  const failed: { name: string; role: Role; reason: string }[] = [...skipped]
  for (const c of contenders) {
    const problem = await check(c)
    if (problem) failed.push({ name: c.name, role: c.role, reason: problem })
    else live.push(c)
  }
  // Calibrate: run each contender for warmupMs, derive a batch size that lasts ~sampleMs.
  const batch = new Map<Contender, number>()
  for (const c of live) {
    let k = 16
    let spent = 0
    let ops = 0
    const deadline = opts.warmupMs * 1e6
    while (spent < deadline) {
      spent += await timeBatch(c, k, ops)
      ops += k
      k = Math.min(k * 2, 1 << 20)
    }
    batch.set(c, Math.max(1, Math.round((opts.sampleMs * 1e6 * ops) / spent)))
  }
  // Each round's sample of a contender is the fastest of its SUB_BATCHES sub-batches: on a shared
  // machine, interference only ever adds time, and a sub-batch still spans many GC cycles. The
  // sub-batches of all contenders are interleaved (A B C, C B A, …) rather than run back to back,
  // so that a slow spell of the machine falls on every contender of the round, not on one.
  const samples = new Map<Contender, number[]>(live.map((c) => [c, []]))
  for (let r = 0; r < opts.rounds; r++) {
    const best = new Map<Contender, number>(live.map((c) => [c, Number.POSITIVE_INFINITY]))
    for (let b = 0; b < SUB_BATCHES; b++) {
      for (const c of roundOrder(live, r * SUB_BATCHES + b)) {
        const k = Math.max(1, Math.round((batch.get(c) as number) / SUB_BATCHES))
        const us = (await timeBatch(c, k, (r * SUB_BATCHES + b) * k)) / k / 1000
        best.set(c, Math.min(best.get(c) as number, us))
      }
    }
    for (const c of live) samples.get(c)?.push(best.get(c) as number)
  }
  const baseline = live.find((c) => c.role === 'floor') ?? live[0]
  const base = baseline ? (samples.get(baseline) ?? []) : []
  const results: ContenderResult[] = live.map((c) => {
    const rounds = samples.get(c) ?? []
    return {
      name: c.name,
      role: c.role,
      rounds,
      us: summarize(rounds),
      vsBaseline: pairedRatio(rounds, base),
    }
  })
  for (const f of failed) {
    const empty = summarize([])
    results.push({
      name: f.name,
      role: f.role,
      rounds: [],
      us: empty,
      vsBaseline: empty,
      skipped: f.reason,
    })
  }
  opts.log(`  ${title}`)
  for (const r of results) {
    opts.log(
      r.skipped
        ? `    ${r.name.padEnd(34)} skipped: ${r.skipped}`
        : `    ${r.name.padEnd(34)} ${r.us.median.toFixed(2).padStart(8)} µs  ×${r.vsBaseline.median.toFixed(2)} vs ${baseline?.name}`,
    )
  }
  return { id, title, note, baseline: baseline?.name ?? '', contenders: results }
}

function oursContender(
  core: OursCore,
  name: string,
  m: KeyMaterial,
  tokens: readonly string[],
  cache: false | { max: number; maxTtlSeconds: number },
  prime = false,
  api: 'authenticate' | 'verify' = 'authenticate',
): Contender {
  const auth = core.createAuth(oursOptions(m, cache))
  if (api === 'verify') {
    return {
      name,
      role: 'reference',
      tokens,
      run: (t) => auth.verify(t),
      async: true,
      subOf: payloadSub,
    }
  }
  // The adapters' entry point.
  const run = authenticateRunner(auth, tokens)
  return {
    name,
    role: 'ours',
    tokens,
    run,
    // synchronous with static keys and no store: a promise here would fail the correctness check
    async: false,
    subOf: (r) => (r instanceof Promise ? 'a promise' : payloadSub(r)),
    prime: prime
      ? () => {
          for (const t of tokens) run(t)
        }
      : undefined,
  }
}

/** Runs every micro-benchmark group. */
export async function runMicro(opts: MicroOptions): Promise<MicroResult> {
  const loaded = await loadCore()
  const core = loaded.ok ? loaded.value : undefined
  const oursStatus = loaded.ok ? 'ok' : loaded.reason
  const oursSkip = (name: string) =>
    core ? [] : [{ name, role: 'ours' as const, reason: oursStatus }]
  if (!core) opts.log(`  ours skipped: ${oursStatus}`)

  const groups: GroupResult[] = []
  const materials = new Map<Algorithm, KeyMaterial>()
  const pools = new Map<Algorithm, string[]>()
  for (const alg of ALGORITHMS) {
    const m = generateKeyMaterial(alg)
    materials.set(alg, m)
    pools.set(alg, signTokens(m, opts.poolSize))
  }

  // 1. Uncached verification per algorithm.
  for (const alg of ALGORITHMS) {
    const m = materials.get(alg) as KeyMaterial
    const tokens = pools.get(alg) as string[]
    const floor = createFloorVerifier(alg, m.verifyKey)
    const fj = fastJwt(m, false)
    const contenders: Contender[] = [
      {
        name: 'floor (node:crypto)',
        role: 'floor',
        tokens,
        run: floor,
        async: false,
        subOf: payloadSub,
      },
      {
        name: 'fast-jwt',
        role: 'peer',
        tokens,
        run: (t) => fj(t),
        async: false,
        subOf: payloadSub,
      },
      {
        name: 'jose jwtVerify',
        role: 'peer',
        tokens,
        run: (t) =>
          jwtVerify(t, m.verifyKey, { algorithms: [alg], issuer: ISSUER, audience: AUDIENCE }),
        async: true,
        subOf: joseSub,
      },
    ]
    const skipped: { name: string; role: Role; reason: string }[] = []
    if (alg === 'EdDSA') {
      skipped.push({
        name: 'jsonwebtoken',
        role: 'peer',
        reason: 'jsonwebtoken 9 does not support EdDSA',
      })
    } else {
      contenders.push({
        name: 'jsonwebtoken',
        role: 'peer',
        tokens,
        run: (t) =>
          jsonwebtoken.verify(t, m.verifyKey, {
            algorithms: [alg as 'RS256'],
            issuer: ISSUER,
            audience: AUDIENCE,
          }),
        async: false,
        subOf: payloadSub,
      })
    }
    if (core) {
      contenders.push(oursContender(core, 'ours (cache: false)', m, tokens, false))
      if (alg === 'RS256') {
        // the promise API, for scale: one awaited promise per call on top of the same work
        contenders.push(
          oursContender(
            core,
            'ours auth.verify() (cache: false)',
            m,
            tokens,
            false,
            false,
            'verify',
          ),
        )
      }
      // A cache an eighth of the pool, walked in order: a working set 8× what it holds. An LRU
      // alone would miss every lookup; with admission on the second sighting about 7 % hit in the
      // steady state. The cost of a cache that never hits (fresh tokens) is in the instruction
      // counts (src/instructions/) and HTTP scenario (c).
      contenders.push(
        oursContender(core, 'ours (cache on, 8× more tokens than it holds)', m, tokens, {
          max: Math.max(1, Math.floor(opts.poolSize / 8)),
          maxTtlSeconds: DEFAULT_CACHE.maxTtlSeconds,
        }),
      )
    } else {
      skipped.push(
        ...oursSkip('ours (cache: false)'),
        ...oursSkip('ours (cache on, 8× more tokens than it holds)'),
      )
    }
    groups.push(
      await runGroup(
        `uncached-${alg}`,
        `Uncached verification, ${alg}`,
        `${tokens.length} distinct tokens walked in order; one call at a time (async contenders awaited).`,
        contenders,
        skipped,
        opts,
      ),
    )
  }

  // 2. Cache hits, RS256 (the asymmetric case) and HS256 (where a cache may not pay).
  for (const alg of ['RS256', 'HS256'] as const) {
    const m = materials.get(alg) as KeyMaterial
    const tokens = pools.get(alg) as string[]
    const floorUncached = createFloorVerifier(alg, m.verifyKey)
    const floorCached = createFloorCache(floorUncached, DEFAULT_CACHE.max)
    const fjCached = fastJwt(m, DEFAULT_CACHE.max)
    const contenders: Contender[] = [
      {
        name: 'floor (sha256 + lru get + exp)',
        role: 'floor',
        tokens,
        run: floorCached,
        async: false,
        subOf: payloadSub,
        prime: async () => {
          for (const t of tokens) floorCached(t)
        },
      },
      {
        name: 'fast-jwt (cache hit)',
        role: 'peer',
        tokens,
        run: (t) => fjCached(t),
        async: false,
        subOf: payloadSub,
        prime: async () => {
          for (const t of tokens) fjCached(t)
        },
      },
    ]
    const skipped: { name: string; role: Role; reason: string }[] = []
    if (alg === 'HS256') {
      contenders.push({
        name: 'floor uncached (HMAC check)',
        role: 'reference',
        tokens,
        run: floorUncached,
        async: false,
        subOf: payloadSub,
      })
    }
    if (core) {
      contenders.push(oursContender(core, 'ours (cache hit)', m, tokens, DEFAULT_CACHE, true))
      if (alg === 'HS256')
        contenders.push(oursContender(core, 'ours (cache: false)', m, tokens, false))
    } else {
      skipped.push(...oursSkip('ours (cache hit)'))
    }
    groups.push(
      await runGroup(
        `cache-hit-${alg}`,
        `Cache hit, ${alg}`,
        `${tokens.length} distinct tokens, all cached before timing (cache max ${DEFAULT_CACHE.max}).`,
        contenders,
        skipped,
        opts,
      ),
    )
  }

  // 3. compressed: tokens.
  {
    const m = materials.get('RS256') as KeyMaterial
    const tokens = pools.get('RS256') as string[]
    const compressed = tokens.map(compressToken)
    const floor = createFloorVerifier('RS256', m.verifyKey)
    const contenders: Contender[] = [
      {
        name: 'floor: inflate only',
        role: 'floor',
        tokens: compressed,
        run: (t) => ({ sub: decodeCompressedFloor(t).length > 0 ? 'user-decoded' : '' }),
        async: false,
        subOf: payloadSub,
      },
      {
        name: 'floor: inflate + verify',
        role: 'reference',
        tokens: compressed,
        run: (t) => floor(decodeCompressedFloor(t)),
        async: false,
        subOf: payloadSub,
      },
    ]
    const skipped: { name: string; role: Role; reason: string }[] = []
    if (core) {
      contenders.push(
        oursContender(core, 'ours compressed (cache: false)', m, compressed, false),
        oursContender(core, 'ours plain (cache: false)', m, tokens, false),
        oursContender(core, 'ours compressed (cache hit)', m, compressed, DEFAULT_CACHE, true),
        oursContender(core, 'ours plain (cache hit)', m, tokens, DEFAULT_CACHE, true),
      )
    } else {
      skipped.push(...oursSkip('ours compressed'))
    }
    const saved =
      tokens.reduce((n, t, i) => n + t.length - (compressed[i] as string).length, 0) / tokens.length
    groups.push(
      await runGroup(
        'compressed',
        '`compressed:` tokens, RS256',
        `Raw DEFLATE + base64url of the same tokens (on average ${saved.toFixed(0)} characters shorter than the plain JWT).`,
        contenders,
        skipped,
        opts,
      ),
    )
  }

  groups.push(...(await runSigning(opts, core ? (loaded as { value: unknown }).value : undefined)))
  if (core) groups.push(await runMetricsCost(opts, core, materials.get('RS256') as KeyMaterial))
  groups.push(...(await runStoreLookups(opts)))

  if (sink < 0) opts.log(String(sink))
  const { log: _log, ...rest } = opts
  return { options: rest, oursStatus, groups }
}
