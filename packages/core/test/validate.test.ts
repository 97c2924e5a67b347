import { describe, expect, it } from 'vitest'
import { createAuth } from '../src/index.js'
import { closestName, createValidator, isHttpToken } from '../src/validate.js'
import { AUDIENCE, rsaKeyPair } from './helpers.js'

const v = createValidator('createThing')

describe('the validation kit', () => {
  it('fails in one format: <where>: <name> must <rule>, e.g. <example>', () => {
    expect(() => v.fail('size', 'be small', '1')).toThrow(
      new TypeError('createThing: size must be small, e.g. 1'),
    )
    expect(() => v.positiveInteger('max', 0, 10)).toThrow(
      'createThing: max must be a positive integer, e.g. 10',
    )
    expect(() => v.oneOf('mode', 'strict', ['required', 'optional'], 'required')).toThrow(
      'createThing: mode must be "required" or "optional", e.g. "required"',
    )
  })

  it('applies defaults and accepts good values', () => {
    expect(v.positiveInteger('max', undefined, 10)).toBe(10)
    expect(v.positiveInteger('max', 3, 10)).toBe(3)
    expect(v.nonNegative('leeway', 0, 5)).toBe(0)
    expect(v.boolean('on', undefined, true)).toBe(true)
    expect(v.oneOf('mode', undefined, ['a', 'b'], 'b')).toBe('b')
    expect(v.string('name', undefined, "'x'")).toBeUndefined()
    expect([...(v.stringSet('aud', 'a', "'a'") ?? [])]).toEqual(['a'])
    expect(v.cookieName('cookie', 'sid')).toBe('sid')
  })

  it.each([
    ['positiveInteger', 1.5],
    ['positiveInteger', '3'],
    ['nonNegative', -1],
    ['nonNegative', Number.NaN],
    ['boolean', 0],
    ['string', ''],
    ['stringSet', []],
    ['stringSet', ['a', '']],
    ['func', 'f'],
    ['cookieName', 'a b'],
  ] as const)('%s refuses %j', (check, value) => {
    const call = () =>
      (v[check] as (n: string, x: unknown, ...rest: unknown[]) => unknown)('opt', value, 1, 'e')
    expect(call).toThrow(/^createThing: opt must /)
  })

  it('knows RFC 7230 tokens', () => {
    expect(isHttpToken('access_token')).toBe(true)
    for (const bad of ['', 'a b', 'a;b', 'é', 'a=b']) expect(isHttpToken(bad)).toBe(false)
  })
})

describe('closestName', () => {
  const names = ['audience', 'algorithms', 'clockToleranceSeconds', 'issuer']
  it.each([
    ['audiance', 'audience'],
    ['algorithm', 'algorithms'],
    ['issuers', 'issuer'],
    ['secretOrPublicKey', undefined],
  ])('%s -> %s', (name, closest) => {
    expect(closestName(name, names)).toBe(closest)
  })

  it('names the likely option in createAuth’s message', () => {
    const rsa = rsaKeyPair()
    expect(() =>
      createAuth({ algorithms: ['RS256'], publicKey: rsa.publicPem, audiance: AUDIENCE } as never),
    ).toThrow(/^createAuth: audiance must be a known option .*, e\.g\. audience$/)
  })
})
