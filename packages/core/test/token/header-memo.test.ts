/**
 * The pipeline's verifier remembers protected headers that opened a verified token (see
 * `createJwsVerifier`). A remembered header must vouch for nothing but itself: the payload and
 * signature of every token are still checked, keys are still looked up per token, and headers
 * that never verified are never remembered.
 */
import { describe, expect, it } from 'vitest'
import type { Algorithm } from '../../src/token/algorithms.js'
import type { KeyResolver } from '../../src/token/key-resolver.js'
import { createStaticKeyResolver } from '../../src/token/key-resolver.js'
import { importPublicKey, toVerifyKey, type VerifyKey } from '../../src/token/keys.js'
import { createJwsVerifier, type HeaderRules, type VerifiedJws } from '../../src/token/verify.js'
import { b64u, claims, ecKeyPair, handSign, rsaKeyPair } from '../helpers.js'

const PUBLIC_KEY = { where: 'createAuth', name: 'publicKey' }
const rules: HeaderRules = { algorithms: new Set<Algorithm>(['RS256']), typ: undefined }

function verifyKey(publicKey: ReturnType<typeof rsaKeyPair>['publicKey'], kid?: string): VerifyKey {
  return toVerifyKey(importPublicKey(publicKey, PUBLIC_KEY, kid), rules.algorithms, PUBLIC_KEY)!
}

function refusal(fn: () => unknown): string {
  try {
    fn()
  } catch (error) {
    return (error as Error).message
  }
  throw new Error('expected a refusal')
}

describe('the remembered protected header', () => {
  const { privateKey, publicKey } = rsaKeyPair()
  const header = { alg: 'RS256', typ: 'JWT' }
  const token = handSign(header, claims(), 'RS256', privateKey)
  const [h, p, s] = token.split('.') as [string, string, string]

  it('still checks the payload and the signature of every token', () => {
    const verify = createJwsVerifier(rules, createStaticKeyResolver([verifyKey(publicKey)]))
    expect(verify(token)).toMatchObject({ payload: { sub: 'user-1' } })
    const other = handSign(header, claims({ sub: 'user-2' }), 'RS256', privateKey).split('.')[2]
    expect(refusal(() => verify(`${h}.${p}.${other}`))).toBe('The token signature is invalid.')
    expect(refusal(() => verify(`${h}.${b64u(claims({ sub: 'admin' }))}.${s}`))).toBe(
      'The token signature is invalid.',
    )
    // the same bytes with a non-canonical spelling of the signature's last character
    const last = s.at(-1) === 'A' ? 'B' : 'A'
    expect(refusal(() => verify(`${h}.${p}.${s.slice(0, -1)}${last}`))).toMatch(
      /canonical|signature/,
    )
    expect(refusal(() => verify(`${h}.${p}+.${s}`))).toBe('The token is not canonical base64url.')
    expect(refusal(() => verify(`${h}.${p}.${s}.`))).toBe(
      'The token is not a compact JWS of three segments.',
    )
    expect(verify(token)).toMatchObject({ header: { alg: 'RS256' } })
  })

  it('looks the key up for every token, so a withdrawn key stops verifying at once', () => {
    let keys: readonly VerifyKey[] = [verifyKey(publicKey)]
    const resolver: KeyResolver = { resolve: () => keys }
    const verify = createJwsVerifier(rules, resolver)
    verify(token)
    keys = []
    expect(refusal(() => verify(token))).toBe('No key can verify the token.')
  })

  it('remembers no header whose token failed, and returns it frozen once remembered', () => {
    const resolver = createStaticKeyResolver([verifyKey(publicKey)])
    const verify = createJwsVerifier(rules, resolver)
    const forged = handSign(header, claims(), 'RS256', rsaKeyPair().privateKey)
    expect(refusal(() => verify(forged))).toBe('The token signature is invalid.')
    // not remembered: the header of the next token with that segment is parsed afresh
    expect(Object.isFrozen((verify(token) as VerifiedJws).header)).toBe(true)
    const bad = handSign({ alg: 'RS256', crit: ['exp'] }, claims(), 'RS256', privateKey)
    expect(refusal(() => verify(bad))).toBe('The token has critical header parameters.')
    expect(refusal(() => verify(bad))).toBe('The token has critical header parameters.')
  })

  it('serves any number of distinct headers (kids) correctly past its bound', () => {
    const es256: HeaderRules = { algorithms: new Set<Algorithm>(['ES256']), typ: undefined }
    const pairs = Array.from({ length: 40 }, (_, i) => ({ kid: `k${i}`, ...ecKeyPair() }))
    const keys = pairs.map(
      (k) =>
        toVerifyKey(importPublicKey(k.publicKey, PUBLIC_KEY, k.kid), es256.algorithms, PUBLIC_KEY)!,
    )
    const verify = createJwsVerifier(es256, createStaticKeyResolver(keys))
    for (let round = 0; round < 2; round++) {
      for (const [i, k] of pairs.entries()) {
        const jwt = handSign(
          { alg: 'ES256', kid: k.kid },
          claims({ sub: `u${i}` }),
          'ES256',
          k.privateKey,
        )
        expect(verify(jwt)).toMatchObject({ payload: { sub: `u${i}` } })
        // another kid's header with this key's signature is refused
        const next = pairs[(i + 1) % pairs.length]!.kid
        const wrong = handSign({ alg: 'ES256', kid: next }, claims(), 'ES256', k.privateKey)
        expect(refusal(() => verify(wrong))).toBe('The token signature is invalid.')
      }
    }
  })
})
