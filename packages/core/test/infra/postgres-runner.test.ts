/** The query runner's options and registry (its behaviour under faults: postgres.int.test.ts). */
import { describe, expect, it } from 'vitest'
import { createPostgresRunner, POSTGRES_RUNNER_DEFAULTS, postgresRunner } from '../../src/index.js'

/** A stand-in with only `query` (no `connect`): deadline and breaker only. */
const standIn = () => ({
  query: async () => ({ rows: [{ one: 1 }], rowCount: 1 }),
})

describe('createPostgresRunner', () => {
  it('has documented defaults', () => {
    expect(POSTGRES_RUNNER_DEFAULTS).toMatchObject({
      timeoutMs: 2000,
      maxWaiting: 100,
      failureThreshold: 3,
      openMs: 500,
      probeTimeoutMs: 500,
    })
  })

  it('is one per pool: postgresRunner returns it, a second one is refused', async () => {
    const pool = standIn()
    const runner = createPostgresRunner(pool as never)
    expect(postgresRunner(pool as never)).toBe(runner)
    expect(() => createPostgresRunner(pool as never)).toThrow(/already has a runner/)
    const other = standIn()
    expect(postgresRunner(other as never)).toBe(postgresRunner(other as never))
    expect((await runner.query({ text: 'SELECT 1' })).rows).toEqual([{ one: 1 }])
    expect(runner.stats()).toMatchObject({
      breaker: 'closed',
      waiting: 0,
      active: 0,
      pool: undefined,
    })
  })

  it('refuses bad options with a TypeError naming them', () => {
    expect(() => createPostgresRunner({} as never)).toThrow(/pool must be a pg Pool/)
    expect(() => createPostgresRunner(standIn() as never, { timeoutMs: 0 })).toThrow(/timeoutMs/)
    expect(() => createPostgresRunner(standIn() as never, { maxWaiting: 1.5 })).toThrow(
      /maxWaiting/,
    )
    expect(() => createPostgresRunner(standIn() as never, { probeTimeoutMs: -1 })).toThrow(
      /probeTimeoutMs/,
    )
  })

  it('counts a SQL error as an answer, not as a failure of the database', async () => {
    let calls = 0
    const pool = {
      query: async () => {
        calls++
        throw Object.assign(new Error('duplicate key'), { code: '23505' })
      },
    }
    const runner = createPostgresRunner(pool as never, { breaker: { failureThreshold: 1 } })
    for (let i = 0; i < 3; i++) {
      await expect(runner.query({ text: 'INSERT' })).rejects.toMatchObject({ code: '23505' })
    }
    expect(calls).toBe(3)
    expect(runner.stats().breaker).toBe('closed')
  })
})
