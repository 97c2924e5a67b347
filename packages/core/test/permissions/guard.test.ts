import { describe, expect, it } from 'vitest'
import {
  type AuthContext,
  chainGuards,
  createGuard,
  createStepUpGuard,
  type Guard,
  type GuardEnvironment,
} from '../../src/index.js'
import { authErrorOf, NOW_MS, NOW_S } from '../helpers.js'

const ENV: GuardEnvironment = { clock: () => NOW_MS, toleranceSeconds: 0 }

function ctx(claims: Record<string, unknown>, ...permissions: string[]): AuthContext {
  return Object.freeze({ sub: 'user-1', claims: Object.freeze(claims), permissions })
}

describe('chainGuards', () => {
  const stepUp = createStepUpGuard({ acrValues: ['mfa'] })
  const payments = createGuard(['payments:write'])
  const chain = chainGuards([stepUp, payments])

  it('passes, synchronously, when every guard passes', () => {
    expect(chain(ctx({ acr: 'mfa' }, 'payments:write'), {}, ENV)).toBeUndefined()
  })

  it('answers with the first refusal: the step-up challenge before the permission refusal', async () => {
    expect((await authErrorOf(() => chain(ctx({ acr: 'pwd' }), {}, ENV))).code).toBe(
      'insufficient_user_authentication',
    )
    expect((await authErrorOf(() => chain(ctx({ acr: 'mfa' }), {}, ENV))).code).toBe(
      'permission_denied',
    )
  })

  it('waits for an asynchronous guard before the next, and passes the environment on', async () => {
    const seen: unknown[] = []
    const later: Guard = Object.assign(
      async (_auth: AuthContext | undefined, _req: unknown, env?: GuardEnvironment) => {
        seen.push(env)
      },
      { label: 'later' },
    )
    const recent = createStepUpGuard({ maxAgeSeconds: 60 })
    const both = chainGuards([later, recent])
    await expect(both(ctx({ auth_time: NOW_S }), {}, ENV)).resolves.toBeUndefined()
    expect((await authErrorOf(() => both(ctx({ auth_time: NOW_S - 61 }), {}, ENV))).code).toBe(
      'insufficient_user_authentication',
    )
    expect(seen).toEqual([ENV, ENV])
  })

  it('labels the chain with every label; one guard is itself', () => {
    expect(chain.label).toBe('step-up acr_values=mfa + payments:write')
    expect(chainGuards([payments])).toBe(payments)
  })
})
