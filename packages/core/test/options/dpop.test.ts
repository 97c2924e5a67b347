import { describe, expect, it } from 'vitest'
import { resolveDpop } from '../../src/options/dpop.js'
import { createValidator } from '../../src/validate.js'

const v = createValidator('createAuth')

describe('resolveDpop', () => {
  it('is off by default and with false', () => {
    expect(resolveDpop(v, undefined)).toBeUndefined()
    expect(resolveDpop(v, false)).toBeUndefined()
  })

  it('takes a mode alone, with the defaults', () => {
    const allowed = resolveDpop(v, 'allowed')!
    expect(allowed.mode).toBe('allowed')
    expect(allowed.algs).toBe('ES256 ES384 EdDSA PS256 RS256')
    expect(allowed.proofMaxAgeSeconds).toBe(60)
    expect(allowed.clockToleranceSeconds).toBe(5)
    expect(allowed.replay).toEqual({ max: 100_000 })
    expect(allowed.nonce).toBeUndefined()
    expect(resolveDpop(v, 'required')!.mode).toBe('required')
  })

  it('takes the options object', () => {
    const resolved = resolveDpop(v, {
      mode: 'required',
      algorithms: ['EdDSA'],
      proofMaxAgeSeconds: 30,
      nonce: { secret: 'n'.repeat(32), stepSeconds: 60 },
      replay: { max: 10 },
      origin: 'HTTPS://API.example:443/',
    })!
    expect(resolved.algs).toBe('EdDSA')
    expect(resolved.nonce?.stepSeconds).toBe(60)
    expect(resolved.origin).toBe('https://api.example')
    const store = { reserve: () => true }
    expect(resolveDpop(v, { replay: store })!.replay).toBe(store)
  })

  it('refuses what would weaken it or be ignored, naming the option', () => {
    const cases: [unknown, string][] = [
      ['yes', "createAuth: dpop must be false, 'allowed', 'required' or an object"],
      [true, "createAuth: dpop must be false, 'allowed', 'required' or an object"],
      [{ mode: 'optional' }, 'createAuth: dpop.mode must be'],
      [
        { algorithms: ['HS256'] },
        'createAuth: dpop.algorithms must be a non-empty array of asymmetric algorithms',
      ],
      [{ algorithms: ['none'] }, 'createAuth: dpop.algorithms must be'],
      [{ algorithms: [] }, 'createAuth: dpop.algorithms must be'],
      [{ proofMaxAgeSeconds: 0 }, 'createAuth: dpop.proofMaxAgeSeconds must be a positive integer'],
      [
        { clockToleranceSeconds: -1 },
        'createAuth: dpop.clockToleranceSeconds must be a non-negative',
      ],
      [
        { nonce: { secret: 'short' } },
        'createAuth: dpop.nonce.secret must be a secret of 32 bytes or more',
      ],
      [
        { replay: { client: {} } },
        'createAuth: dpop.replay.client must be an ioredis client or Cluster',
      ],
      [{ origin: 'https://api.example/v1' }, 'createAuth: dpop.origin must be an origin'],
      [{ origin: 'ftp://api.example' }, 'createAuth: dpop.origin must be an https: URL'],
      [{ url: 'https://api.example' }, 'createAuth: dpop.url must be a function'],
      [{ replay: { reserve: true } }, 'createAuth: dpop.replay.reserve must be a function'],
      [{ algoritms: ['ES256'] }, 'createAuth: dpop.algoritms must be a known DPoP option'],
    ]
    for (const [value, message] of cases) {
      expect(() => resolveDpop(v, value as never), JSON.stringify(value)).toThrow(message)
    }
  })
})
