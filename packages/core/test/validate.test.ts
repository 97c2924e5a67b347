import { describe, expect, it } from 'vitest'
import { createAuth } from '../src/index.js'
import {
  closestName,
  createValidator,
  func,
  httpsUrl,
  invalid,
  isHttpToken,
  nonNegative,
  oneOf,
  positiveInteger,
  positiveNumber,
} from '../src/validate.js'
import { AUDIENCE, rsaKeyPair } from './helpers.js'

const WHERE = 'createThing'

describe('the validation kit', () => {
  it('throws one TypeError format: <where>: <name> must be <what>, e.g. <example>.', () => {
    expect(() => invalid(WHERE, 'keyPrefix', 'a string', "'af:'")).toThrow(
      new TypeError("createThing: keyPrefix must be a string, e.g. 'af:'."),
    )
    expect(() => invalid(WHERE, 'pool or source', 'given, not both')).toThrow(
      new TypeError('createThing: pool or source must be given, not both.'),
    )
  })

  it('keeps a cause when a library says more', () => {
    const cause = new Error('DECODER routines::unsupported')
    let thrown: unknown
    try {
      invalid(WHERE, 'publicKey', 'a PEM that parses', 'pem', cause)
    } catch (error) {
      thrown = error
    }
    expect(thrown).toEqual(
      new TypeError('createThing: publicKey must be a PEM that parses, e.g. pem.'),
    )
    expect((thrown as Error).cause).toBe(cause)
  })

  it('checks URL options without repeating the URL (it may carry a secret)', () => {
    const rules = { allowHttp: false, allowHttpHint: 'set allowHttp', example: "'https://a/x'" }
    const url = (value: unknown, more = {}) =>
      httpsUrl(value, 'endpoint', WHERE, { ...rules, ...more })
    expect(url('https://as.example/x').href).toBe('https://as.example/x')
    expect(url('http://127.0.0.1:8080/x').port).toBe('8080')
    expect(url('http://as.internal/x', { allowHttp: true }).protocol).toBe('http:')
    expect(() => url('http://as.example/x')).toThrow(
      "createThing: endpoint must be an https: URL (http: only to localhost, 127.0.0.1 or [::1]; set allowHttp), e.g. 'https://a/x'.",
    )
    expect(() => url('ftp://as.example/x')).toThrow('endpoint must be an https: URL, e.g.')
    expect(() => url('not a url')).toThrow('endpoint must be a valid URL, e.g.')
    expect(() => url(42)).toThrow('endpoint must be a URL string, e.g.')
    const withSecret = 'https://id:s3cret@as.example/x'
    expect(url(withSecret).password).toBe('s3cret') // credentials allowed unless refused
    expect(() =>
      url(withSecret, { credentials: 'give them as clientId and clientSecret' }),
    ).toThrow(
      'endpoint must be a URL without credentials (give them as clientId and clientSecret), e.g.',
    )
    expect(() => url(withSecret, { credentials: 'x' })).not.toThrow(/s3cret/)
  })

  it('returns a valid value with its checked type', () => {
    expect(positiveInteger(3, 'max', 100, WHERE)).toBe(3)
    expect(positiveNumber(0.5, 'openMs', 1000, WHERE)).toBe(0.5)
    expect(nonNegative(0, 'overlap', 60, WHERE, true)).toBe(0)
    expect(nonNegative(0.5, 'delay', 1, WHERE)).toBe(0.5)
    expect(oneOf('strict', 'mode', ['local', 'strict'], WHERE)).toBe('strict')
    const clock = () => 1
    expect(func(clock, 'clock', 'Date.now', WHERE)).toBe(clock)
  })

  it.each([
    [
      () => positiveInteger(0, 'max', 100, WHERE),
      'createThing: max must be a positive integer, e.g. 100.',
    ],
    [
      () => positiveInteger(1.5, 'max', 100, WHERE),
      'createThing: max must be a positive integer, e.g. 100.',
    ],
    [
      () => positiveInteger('1', 'max', 100, WHERE),
      'createThing: max must be a positive integer, e.g. 100.',
    ],
    [
      () => positiveNumber(0, 'openMs', 1000, WHERE),
      'createThing: openMs must be a positive number, e.g. 1000.',
    ],
    [
      () => positiveNumber(Number.NaN, 'openMs', 1000, WHERE),
      'createThing: openMs must be a positive number, e.g. 1000.',
    ],
    [
      () => positiveNumber(Number.POSITIVE_INFINITY, 'openMs', 1000, WHERE),
      'createThing: openMs must be a positive number, e.g. 1000.',
    ],
    [
      () => nonNegative(-1, 'overlap', 60, WHERE, true),
      'createThing: overlap must be a non-negative integer, e.g. 60.',
    ],
    [
      () => nonNegative(0.5, 'overlap', 60, WHERE, true),
      'createThing: overlap must be a non-negative integer, e.g. 60.',
    ],
    [
      () => nonNegative(-0.5, 'delay', 1, WHERE),
      'createThing: delay must be a non-negative number, e.g. 1.',
    ],
    [
      () => oneOf('lax', 'mode', ['local', 'strict', 'off'], WHERE),
      "createThing: mode must be 'local', 'strict' or 'off'.",
    ],
    [() => oneOf(2, 'level', [1], WHERE), 'createThing: level must be 1.'],
    [
      () => func(42, 'onError', '(error) => log(error)', WHERE),
      'createThing: onError must be a function, e.g. (error) => log(error).',
    ],
  ])('refuses with the message %#', (check, message) => {
    expect(check).toThrow(new TypeError(message))
  })
})

const v = createValidator('createThing')

describe('createValidator: the kit bound to one factory, with defaults', () => {
  it('fails in the kit format: <where>: <name> must <rule>, e.g. <example>.', () => {
    expect(() => v.fail('size', 'be small', '1')).toThrow(
      new TypeError('createThing: size must be small, e.g. 1.'),
    )
    expect(() => v.positiveInteger('max', 0, 10)).toThrow(
      new TypeError('createThing: max must be a positive integer, e.g. 10.'),
    )
    expect(() => v.oneOf('mode', 'strict', ['required', 'optional'], 'required')).toThrow(
      new TypeError("createThing: mode must be 'required' or 'optional'."),
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
    ).toThrow(/^createAuth: audiance must be a known option .*, e\.g\. audience\.$/)
  })
})
