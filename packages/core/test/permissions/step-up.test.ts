import { describe, expect, it } from 'vitest'
import {
  type AuthContext,
  createAuth,
  createMetrics,
  createSigner,
  createStepUpGuard,
  type GuardEnvironment,
  type StepUpOptions,
} from '../../src/index.js'
import { AUDIENCE, authErrorOf, fakeClock, ISSUER, NOW_MS, NOW_S, summary } from '../helpers.js'

const ENV: GuardEnvironment = { clock: () => NOW_MS, toleranceSeconds: 5 }

function ctx(claims: Record<string, unknown>): AuthContext {
  return Object.freeze({ sub: 'user-1', claims: Object.freeze(claims), permissions: [] })
}

const WEAK = 'A different authentication level is required.'
const OLD = 'More recent authentication is required.'
const challenge = (description: string, params: string) =>
  `Bearer realm="api", error="insufficient_user_authentication", error_description="${description}"${params}`

async function refusal(options: StepUpOptions, claims: Record<string, unknown>) {
  return summary(await authErrorOf(() => createStepUpGuard(options)(ctx(claims), {}, ENV)))
}

describe('createStepUpGuard: acr', () => {
  const options = { acrValues: ['urn:example:mfa', 'hwk'] }

  it('passes, synchronously, when acr is one of acrValues', () => {
    const guard = createStepUpGuard(options)
    expect(guard(ctx({ acr: 'hwk' }), {}, ENV)).toBeUndefined()
    expect(guard(ctx({ acr: 'urn:example:mfa' }), {}, ENV)).toBeUndefined()
  })

  it.each([
    ['another value', { acr: 'pwd' }],
    ['a prefix of one', { acr: 'urn:example' }],
    ['a missing acr', {}],
    ['a number', { acr: 2 }],
    ['an array holding an accepted value', { acr: ['hwk'] }],
    ['null', { acr: null }],
  ])('challenges %s with 401 insufficient_user_authentication', async (_name, claims) => {
    expect(await refusal(options, claims)).toEqual({
      code: 'insufficient_user_authentication',
      status: 401,
      'www-authenticate': challenge(WEAK, ', acr_values="urn:example:mfa hwk"'),
    })
  })
})

describe('createStepUpGuard: auth_time', () => {
  const options = { maxAgeSeconds: 300 }
  const maxAge = ', max_age="300"'

  it.each([
    ['just now', NOW_S],
    ['exactly maxAgeSeconds ago', NOW_S - 300],
    ['a fraction of a second ago', NOW_S - 0.5],
    ['in the future within the clock tolerance', NOW_S + 5],
  ])('passes for an authentication %s', (_name, authTime) => {
    expect(createStepUpGuard(options)(ctx({ auth_time: authTime }), {}, ENV)).toBeUndefined()
  })

  it.each([
    ['one second too old', { auth_time: NOW_S - 301 }],
    ['in the future beyond the tolerance', { auth_time: NOW_S + 6 }],
    ['missing', {}],
    ['a string', { auth_time: String(NOW_S) }],
    ['not finite', { auth_time: Number.POSITIVE_INFINITY }],
    ['NaN', { auth_time: Number.NaN }],
  ])('challenges an auth_time %s', async (_name, claims) => {
    expect(await refusal(options, claims)).toEqual({
      code: 'insufficient_user_authentication',
      status: 401,
      'www-authenticate': challenge(OLD, maxAge),
    })
  })

  it("reads the instance's clock on every request", async () => {
    const time = fakeClock()
    const env = { clock: time.clock, toleranceSeconds: 0 }
    const guard = createStepUpGuard(options)
    const auth = ctx({ auth_time: NOW_S })
    expect(guard(auth, {}, env)).toBeUndefined()
    time.advanceSeconds(300)
    expect(guard(auth, {}, env)).toBeUndefined()
    time.advanceSeconds(1)
    expect((await authErrorOf(() => guard(auth, {}, env))).code).toBe(
      'insufficient_user_authentication',
    )
  })

  it('without an instance, uses the system clock and no tolerance', async () => {
    const guard = createStepUpGuard(options)
    const now = Math.floor(Date.now() / 1000)
    expect(guard(ctx({ auth_time: now - 10 }), {})).toBeUndefined()
    expect((await authErrorOf(() => guard(ctx({ auth_time: now + 60 }), {}))).code).toBe(
      'insufficient_user_authentication',
    )
  })
})

describe('createStepUpGuard: both', () => {
  const options = { acrValues: ['mfa'], maxAgeSeconds: 60 }
  const params = ', acr_values="mfa", max_age="60"'

  it('passes only when both hold', async () => {
    const guard = createStepUpGuard(options)
    expect(guard(ctx({ acr: 'mfa', auth_time: NOW_S - 60 }), {}, ENV)).toBeUndefined()
  })

  it('asks for both, whichever fails', async () => {
    expect(await refusal(options, { acr: 'pwd', auth_time: NOW_S })).toMatchObject({
      'www-authenticate': challenge(WEAK, params),
    })
    expect(await refusal(options, { acr: 'mfa', auth_time: NOW_S - 61 })).toMatchObject({
      'www-authenticate': challenge(OLD, params),
    })
    expect(await refusal(options, {})).toMatchObject({
      'www-authenticate': challenge(WEAK, params),
    })
  })

  it('carries the requirements in the problem body too', async () => {
    const error = await authErrorOf(() => createStepUpGuard(options)(ctx({}), {}, ENV))
    expect(error.toProblem()).toEqual({
      type: 'urn:authframework:error:insufficient_user_authentication',
      title: 'Stronger or more recent authentication required',
      status: 401,
      detail: WEAK,
      code: 'insufficient_user_authentication',
      acr_values: 'mfa',
      max_age: 60,
    })
  })

  it('answers an anonymous request with 401 credentials_missing, in its realm', async () => {
    const error = await authErrorOf(() =>
      createStepUpGuard(options, 'payments')(undefined, {}, ENV),
    )
    expect(summary(error)).toEqual({
      code: 'credentials_missing',
      status: 401,
      'www-authenticate': 'Bearer realm="payments"',
    })
  })

  it('labels its decisions with what it requires', () => {
    expect(createStepUpGuard(options).label).toBe('step-up acr_values=mfa max_age=60')
    expect(createStepUpGuard({ maxAgeSeconds: 5 }).label).toBe('step-up max_age=5')
  })
})

describe('createStepUpGuard: options', () => {
  it.each([
    [undefined, 'requireAuthentication: options must be an object'],
    [{}, 'requireAuthentication: options must be given acrValues, maxAgeSeconds or both'],
    [
      { maxAge: 300 },
      'requireAuthentication: maxAge must be a known option, e.g. acrValues or maxAgeSeconds.',
    ],
    [
      { acrValue: ['mfa'] },
      'requireAuthentication: acrValue must be a known option, e.g. acrValues.',
    ],
    [{ acrValues: [] }, 'requireAuthentication: acrValues must be a non-empty array'],
    [{ acrValues: 'mfa' }, 'requireAuthentication: acrValues must be a non-empty array'],
    [{ acrValues: ['two words'] }, 'requireAuthentication: acrValues must be a non-empty array'],
    [{ acrValues: ['a"b'] }, 'requireAuthentication: acrValues must be a non-empty array'],
    [{ acrValues: ['é'] }, 'requireAuthentication: acrValues must be a non-empty array'],
    [{ acrValues: [''] }, 'requireAuthentication: acrValues must be a non-empty array'],
    [{ maxAgeSeconds: 0 }, 'requireAuthentication: maxAgeSeconds must be a positive integer'],
    [{ maxAgeSeconds: 1.5 }, 'requireAuthentication: maxAgeSeconds must be a positive integer'],
    [{ maxAgeSeconds: '300' }, 'requireAuthentication: maxAgeSeconds must be a positive integer'],
    [{ maxAgeSeconds: 2 ** 60 }, 'requireAuthentication: maxAgeSeconds must be a safe integer'],
  ])('%j is a TypeError at route definition', (options, message) => {
    expect(() => createStepUpGuard(options as StepUpOptions)).toThrow(TypeError)
    expect(() => createStepUpGuard(options as StepUpOptions)).toThrow(message)
  })

  it('keeps a copy of acrValues: changing the array later changes nothing', async () => {
    const acrValues = ['mfa']
    const guard = createStepUpGuard({ acrValues })
    acrValues.push('pwd')
    expect((await authErrorOf(() => guard(ctx({ acr: 'pwd' }), {}, ENV))).headers).toEqual({
      'www-authenticate': challenge(WEAK, ', acr_values="mfa"'),
    })
  })
})

describe('step-up through createAuth', () => {
  it("judges with the instance's clock and tolerance, realm and decision metrics", async () => {
    const time = fakeClock()
    const metrics = createMetrics()
    const auth = createAuth({
      algorithms: ['HS256'],
      secret: 'k'.repeat(32),
      issuer: ISSUER,
      audience: AUDIENCE,
      clock: time.clock,
      clockToleranceSeconds: 30,
      realm: 'bank',
      metrics,
    })
    const guard = createStepUpGuard({ maxAgeSeconds: 60 })
    const signer = createSigner({
      secret: 'k'.repeat(32),
      issuer: ISSUER,
      audience: AUDIENCE,
      ttlSeconds: 3600,
      clock: time.clock,
    })
    const token = await signer.sign({ sub: 'user-1', auth_time: NOW_S + 30 })
    const context = await auth.verify(token)
    // 30 s ahead: within the instance's tolerance (the system clock is years later)
    expect(auth.authorize(guard, context, {})).toBeUndefined()
    time.advanceSeconds(91)
    const error = await authErrorOf(() => auth.authorize(guard, context, {}))
    expect(summary(error)).toEqual({
      code: 'insufficient_user_authentication',
      status: 401,
      'www-authenticate': challenge(OLD, ', max_age="60"').replace('realm="api"', 'realm="bank"'),
    })
    expect(metrics.snapshot().decisions).toEqual({
      'step-up max_age=60': { allow: 1, deny: 1 },
    })
    await auth.close()
  })
})
