import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { runInChild } from '../src/child.js'
import { createFloorCache, createFloorVerifier, decodeCompressedFloor } from '../src/floor.js'
import type { InMemoryJob, InMemoryTiming } from '../src/http/in-memory-child.js'
import { FRAMEWORKS, type Framework, type VariantId } from '../src/http/variants.js'
import type { HttpInstructionJob } from '../src/instructions/http-child.js'
import { TSX } from '../src/sign-pool.js'
import { median, pairedRatio, quantile, roundOrder, summarize } from '../src/stats.js'
import { escapeXml, linearTicks, logTicks, renderBarChart } from '../src/svg.js'
import { ALGORITHMS, compressToken, generateKeyMaterial, signTokens } from '../src/tokens.js'

describe('stats', () => {
  it('takes medians, quantiles and paired ratios', () => {
    expect(median([3, 1, 2])).toBe(2)
    expect(median([4, 1, 2, 3])).toBe(2.5)
    expect(quantile([0, 10], 0.95)).toBeCloseTo(9.5)
    expect(summarize([2, Number.NaN, 4, 3])).toEqual({ median: 3, min: 2, max: 4, n: 3 })
    expect(pairedRatio([2, 4, 9], [1, 2, 3]).median).toBe(2)
  })

  it('rotates and reverses the run order from round to round', () => {
    expect(roundOrder(['a', 'b', 'c'], 0)).toEqual(['a', 'b', 'c'])
    expect(roundOrder(['a', 'b', 'c'], 1)).toEqual(['a', 'c', 'b'])
    expect(roundOrder(['a', 'b', 'c'], 2)).toEqual(['c', 'a', 'b'])
    const firsts = new Set([0, 1, 2, 3, 4, 5].map((r) => roundOrder(['a', 'b', 'c'], r)[0]))
    expect(firsts.size).toBe(3)
  })
})

describe('floor', () => {
  it.each(ALGORITHMS)(
    'verifies %s tokens signed by the harness and rejects a tampered one',
    (alg) => {
      const material = generateKeyMaterial(alg)
      const [token] = signTokens(material, 1) as [string]
      const verify = createFloorVerifier(alg, material.verifyKey)
      expect(verify(token).sub).toBe('user-0')
      const tampered = `${token.slice(0, -4)}${token.endsWith('AAAA') ? 'BBBB' : 'AAAA'}`
      expect(() => verify(tampered)).toThrow()
    },
  )

  it('caches by token hash and decodes compressed tokens', () => {
    const material = generateKeyMaterial('HS256')
    const [token] = signTokens(material, 1) as [string]
    let calls = 0
    const uncached = createFloorVerifier('HS256', material.verifyKey)
    const cached = createFloorCache((t) => {
      calls++
      return uncached(t)
    })
    cached(token)
    cached(token)
    expect(calls).toBe(1)
    expect(decodeCompressedFloor(compressToken(token))).toBe(token)
  })
})

describe('svg', () => {
  it('escapes text and picks readable ticks', () => {
    expect(escapeXml(`<a & "b">`)).toBe('&lt;a &amp; &quot;b&quot;&gt;')
    expect(linearTicks(0.97)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1])
    expect(logTicks(1, 100)).toEqual([1, 2, 5, 10, 20, 50, 100])
  })

  it('renders a grouped bar chart with whiskers, a reference line and a legend', () => {
    const svg = renderBarChart({
      title: 'Ratios <vs> bare',
      axisLabel: '× of bare',
      series: [
        { name: 'ours', color: '#000' },
        { name: 'peer', color: '#111' },
      ],
      groups: [
        {
          label: 'Fastify · a',
          bars: [
            { series: 'ours', value: 0.9, lo: 0.85, hi: 0.95 },
            { series: 'peer', value: 0.5 },
          ],
        },
        { label: 'Koa · a', bars: [{ series: 'ours', value: Number.NaN }] },
      ],
      refLines: [{ value: 1, label: 'bare' }],
    })
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true)
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true)
    expect(svg).toContain('Ratios &lt;vs&gt; bare')
    expect(svg.match(/<rect [^>]*fill="#000"/g)?.length).toBe(2) // legend swatch + one bar
    expect(svg).toContain('n/a')
    expect(svg).toContain('stroke-dasharray')
  })
})

describe('instruction counts: the in-memory HTTP driver', () => {
  /** Runs the HTTP child natively through its protocol; resolves with the requests answered 200. */
  async function answered(job: HttpInstructionJob): Promise<number> {
    const dir = mkdtempSync(join(tmpdir(), 'authframework-http-child-'))
    const file = join(dir, 'job.json')
    writeFileSync(file, JSON.stringify(job))
    const child = spawn(process.execPath, ['--import', TSX, HTTP_CHILD, file], {
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    try {
      let ok = -1
      for await (const line of createInterface({ input: child.stdout })) {
        if (line === 'READY') child.kill('SIGUSR2')
        else if (line.startsWith('DONE ')) ok = Number(line.slice(5))
      }
      return ok
    } finally {
      child.kill()
      rmSync(dir, { recursive: true, force: true })
    }
  }

  const HTTP_CHILD = fileURLToPath(new URL('../src/instructions/http-child.ts', import.meta.url))
  const material = generateKeyMaterial('RS256')
  const tokens = signTokens(material, 3)
  const job = (framework: Framework, variant: VariantId, carried = tokens) => ({
    framework,
    variant,
    publicKeyPem: material.verifyPem,
    tokens: carried,
    warmup: 20,
    measured: 10,
  })

  it.each(FRAMEWORKS)(
    'drives %s, bare and ours, through the real app on one keep-alive connection',
    async (framework) => {
      const [bare, ours, forged] = await Promise.all([
        answered(job(framework, 'bare')),
        answered(job(framework, 'ours')),
        // a signature from another key: ours answers 401, and the driver must see it
        answered(job(framework, 'ours', signTokens(generateKeyMaterial('RS256'), 1))),
      ])
      expect(bare).toBe(30)
      expect(ours).toBe(30)
      expect(forged).toBe(0)
    },
  )
})

describe('in-memory timing: the child that times whole requests natively', () => {
  const CHILD = new URL('../src/http/in-memory-child.ts', import.meta.url)
  const material = generateKeyMaterial('RS256')
  const tokens = signTokens(material, 2)

  /** Runs the child on one job through its IPC protocol (`runInChild`, under tsx). */
  async function timed(job: InMemoryJob): Promise<InMemoryTiming> {
    const answer = await runInChild<{ timing: InMemoryTiming }>(CHILD, job, {
      execArgv: ['--import', TSX],
    })
    return answer.timing
  }

  const job = (variant: VariantId, carried = tokens, connections = 1): InMemoryJob => ({
    framework: 'fastify',
    variant,
    publicKeyPem: material.verifyPem,
    tokens: carried,
    warmup: 12,
    batches: 3,
    batchSize: 6,
    connections,
  })

  it('answers every request on one or many connections, and times each batch', async () => {
    const [bare, ours, many] = await Promise.all([
      timed(job('bare')),
      timed(job('ours')),
      timed(job('ours', tokens, 5)),
    ])
    for (const t of [bare, ours, many]) {
      expect(t.answered).toBe(30)
      expect(t.cpuUs).toHaveLength(3)
      expect(t.wallUs).toHaveLength(3)
      for (const us of [...t.cpuUs, ...t.wallUs]) expect(us).toBeGreaterThan(0)
    }
  })

  it('counts a forged token as not answered, so a broken app cannot pass for a fast one', async () => {
    const forged = await timed(job('ours', signTokens(generateKeyMaterial('RS256'), 1), 3))
    expect(forged.answered).toBe(0)
  })
})
