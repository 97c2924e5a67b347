/** The harness itself: statistics, the floor, the micro harness, the in-memory child, the report. */
import { describe, expect, it } from 'vitest'
import { runInChild } from '../src/child.js'
import { describeEnvironment } from '../src/env.js'
import { createFloorCache, createFloorVerifier } from '../src/floor.js'
import type { InMemoryJob, InMemoryTiming } from '../src/http/in-memory-child.js'
import type { VariantId } from '../src/http/variants.js'
import { runGroup } from '../src/micro.js'
import { renderReport } from '../src/report.js'
import {
  fmt,
  fmtSigned,
  median,
  pairedRatio,
  quantile,
  roundOrder,
  summarize,
} from '../src/stats.js'
import { escapeXml, linearTicks, logTicks } from '../src/svg.js'
import { ALGORITHMS, generateKeyMaterial, signTokens } from '../src/tokens.js'

const TSX = import.meta.resolve('tsx')

describe('stats', () => {
  it('takes medians, quantiles, paired ratios and formats them', () => {
    expect(median([3, 1, 2])).toBe(2)
    expect(quantile([0, 10], 0.95)).toBeCloseTo(9.5)
    expect(summarize([2, Number.NaN, 4, 3])).toEqual({ median: 3, min: 2, max: 4, n: 3 })
    expect(pairedRatio([2, 4, 9], [1, 2, 3]).median).toBe(2)
    expect(fmt(summarize([1, 2, 3]), 1, ' µs')).toBe('2.0 µs (1.0–3.0)')
    expect(fmtSigned(summarize([-1, 2]), 1)).toBe('+0.5 (−1.0 to +2.0)')
    expect(fmt(undefined)).toBe('n/a')
  })

  it('rotates and reverses the run order from round to round', () => {
    expect(roundOrder(['a', 'b', 'c'], 0)).toEqual(['a', 'b', 'c'])
    expect(roundOrder(['a', 'b', 'c'], 1)).toEqual(['a', 'c', 'b'])
    const firsts = new Set([0, 1, 2, 3, 4, 5].map((r) => roundOrder(['a', 'b', 'c'], r)[0]))
    expect(firsts.size).toBe(3)
  })
})

describe('floor', () => {
  it.each(ALGORITHMS)('verifies %s tokens signed by the harness, rejects a tampered one', (alg) => {
    const material = generateKeyMaterial(alg)
    const [token] = signTokens(material, 1) as [string]
    const verify = createFloorVerifier(alg, material.verifyKey)
    expect(verify(token).sub).toBe('user-0')
    expect(() =>
      verify(`${token.slice(0, -4)}${token.endsWith('AAAA') ? 'BBBB' : 'AAAA'}`),
    ).toThrow()
  })

  it('caches by token hash', () => {
    const material = generateKeyMaterial('HS256')
    const [token] = signTokens(material, 1) as [string]
    const uncached = createFloorVerifier('HS256', material.verifyKey)
    let calls = 0
    const cached = createFloorCache((t) => {
      calls++
      return uncached(t)
    })
    cached(token)
    cached(token)
    expect(calls).toBe(1)
  })
})

describe('micro harness', () => {
  it('times the contenders that pass their check and reports the one that does not', async () => {
    const inputs = ['a', 'b']
    const lines: string[] = []
    const group = await runGroup(
      { id: 'g', title: 'G', note: '' },
      [
        { name: 'floor', role: 'floor', inputs, run: (x) => x.length, check: (r) => r === 1 },
        {
          name: 'ours',
          role: 'ours',
          inputs,
          run: async (x) => x,
          async: true,
          check: (r) => r === 'a',
        },
        { name: 'wrong', role: 'peer', inputs, run: () => 0, check: (r) => r === 1 },
      ],
      [{ name: 'absent', role: 'peer', reason: 'not installed' }],
      { rounds: 2, sampleMs: 1, warmupMs: 2, poolSize: 2 },
      (line) => lines.push(line),
    )
    const [floor, ours, wrong, absent] = ['floor', 'ours', 'wrong', 'absent'].map((name) =>
      group.contenders.find((c) => c.name === name),
    )
    expect(group.floor).toBe('floor')
    expect(floor?.rounds).toHaveLength(2)
    expect(ours?.vsFloor.n).toBe(2)
    expect(wrong?.skipped).toMatch(/correctness check/)
    expect(absent?.skipped).toBe('not installed')
    expect(lines[0]).toContain('G')
  })
})

describe('in-memory timing: the child that times whole requests', () => {
  const material = generateKeyMaterial('RS256')
  const tokens = signTokens(material, 2)
  const timed = (variant: VariantId, carried = tokens, connections = 1) =>
    runInChild<{ timing: InMemoryTiming }>(
      new URL('../src/http/in-memory-child.ts', import.meta.url),
      {
        app: { framework: 'fastify', variant, publicKeyPem: material.verifyPem },
        tokens: carried,
        connections,
        warmup: 12,
        batches: 3,
        batchSize: 6,
      } satisfies InMemoryJob,
      { execArgv: ['--import', TSX] },
    ).then((a) => a.timing)

  it('answers every request on one or many connections, and times each batch', async () => {
    const all = await Promise.all([timed('bare'), timed('ours'), timed('ours-perm', tokens, 5)])
    for (const t of all) {
      expect(t.answered).toBe(30)
      expect(t.cpuUs).toHaveLength(3)
    }
  })

  it('counts a forged token as not answered, so a broken app cannot pass for a fast one', async () => {
    const forged = await timed('ours', signTokens(generateKeyMaterial('RS256'), 1), 3)
    expect(forged.answered).toBe(0)
  })
})

describe('report', () => {
  it('renders a report and its charts from a partial result', () => {
    const cpu = { bare: [10, 12], ours: [15, 16] } as const
    const samples = Object.entries(cpu).flatMap(([variant, rounds]) =>
      rounds.map((cpuUs, round) => ({ round, framework: 'koa' as const, variant, cpuUs })),
    ) as { round: number; framework: 'koa'; variant: VariantId; cpuUs: number }[]
    const { markdown, charts } = renderReport({
      ...{ mode: 'quick', command: 'pnpm bench --quick', parts: ['inmemory'], partial: false },
      ...{ startedAt: '2026-12-04T00:00:00.000Z', seconds: 1, environment: describeEnvironment() },
      ...{ notRun: { login: 'not run: PostgreSQL unreachable' }, poolSize: 10 },
      inMemory: {
        rounds: 2,
        connections: 1,
        counts: { warmup: 1, batches: 1, batchSize: 1 },
        samples,
        failures: [],
      },
    })
    expect(markdown).toContain('Smoke run')
    expect(markdown).toContain(
      '| Koa 3 | ours | 15.5 (15.0–16.0) | +4.5 (+4.0 to +5.0) | 0.71 (0.67–0.75) |',
    )
    expect(markdown).toContain('**login** was not run')
    expect(Object.keys(charts)).toEqual(['in-memory-vs-bare.svg'])
    const svg = charts['in-memory-vs-bare.svg'] as string
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true)
    expect(svg).toContain('stroke-dasharray') // the reference line at bare
    expect(svg).toContain('0.71') // ours' bar, with its whisker
  })
})

describe('svg', () => {
  it('escapes text and picks readable ticks', () => {
    expect(escapeXml(`<a & "b">`)).toBe('&lt;a &amp; &quot;b&quot;&gt;')
    expect(linearTicks(0.97)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1])
    expect(logTicks(1, 100)).toEqual([1, 2, 5, 10, 20, 50, 100])
  })
})
