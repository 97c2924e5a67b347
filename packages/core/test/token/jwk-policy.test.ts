/**
 * Our JWK and JWK Set acceptance policy, run against the Wycheproof JSON Web Key vectors
 * (C2SP/wycheproof `testvectors_v1/json_web_key_test.json`, copied unchanged into
 * `<repo>/../shared/vectors/wycheproof/`; see PROVENANCE.md there), plus the ROCA check.
 *
 * A key set reaches us by one of two paths, and each vector is run through both:
 * - remote: a JWK Set document fetched from `jwksUri`, imported by `keysFromJwks`. A document
 *   holding any private or symmetric key, or repeating a `kid`, is rejected whole (the remote key
 *   set then fails closed); a key we cannot use is skipped.
 * - config: the same keys given as `keys: [...]` in the options (`importKeyInput`, then
 *   `assertKeySet`, then `toVerifyKey`). A configuration mistake throws a TypeError, whole.
 * Each vector's `jws` is then verified with the keys (compact check + signature layer). A vector
 * labelled `valid` must have its set accepted AND its jws verified on the path it belongs to
 * (symmetric sets: config only, since a secret never comes from a URL); an `invalid` one must
 * fail on every path.
 */
import { createPublicKey, generateKeyPairSync, type JsonWebKey } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { TokenInvalidError } from '../../src/errors.js'
import type { Algorithm } from '../../src/token/algorithms.js'
import { parseCompact } from '../../src/token/compact.js'
import { keysFromJwks } from '../../src/token/jwks.js'
import { createStaticKeyResolver } from '../../src/token/key-resolver.js'
import {
  assertKeySet,
  importKeyInput,
  importPublicKey,
  toVerifyKey,
  type VerifyKey,
} from '../../src/token/keys.js'
import { verifySignature } from '../../src/token/verify.js'
import {
  hasRocaFingerprint,
  ROCA_PRIMES,
  ROCA_SUBGROUP_MASKS,
  rsaModulus,
} from '../../src/token/weak-keys.js'

type Result = 'valid' | 'invalid' | 'acceptable'

interface JwkVector {
  readonly tcId: number
  readonly comment: string
  readonly jws: string
  readonly result: Result
  readonly flags: readonly string[]
}

interface JwkSet {
  readonly keys: readonly JsonWebKey[]
}

interface JwkGroup {
  readonly comment: string
  readonly public?: JwkSet
  readonly private?: JwkSet
  readonly tests: readonly JwkVector[]
}

// The repository and `shared/` sit side by side (locally and in CI): <repo>/../shared/vectors/...
const FILE = new URL(
  '../../../../../shared/vectors/wycheproof/json_web_key_test.json',
  import.meta.url,
)
const vectors = JSON.parse(readFileSync(FILE, 'utf8')) as {
  numberOfTests: number
  testGroups: readonly JwkGroup[]
}
const all = vectors.testGroups.flatMap((group) => group.tests.map((test) => ({ group, test })))

function vector(tcId: number) {
  const entry = all.find(({ test }) => test.tcId === tcId)
  if (entry === undefined) throw new Error(`no Wycheproof vector ${tcId}`)
  return entry
}

/** The set a verifier is given: the public one, or the private one when there is no public one. */
function keySet(group: JwkGroup): JwkSet {
  const set = group.public ?? group.private
  if (set === undefined) throw new Error(`group ${group.comment} has no key set`)
  return set
}

/** The application's allowlist for the vector: the algorithm its token is signed with. */
function allowedFor(jws: string): ReadonlySet<Algorithm> {
  const header = JSON.parse(Buffer.from(jws.slice(0, jws.indexOf('.')), 'base64url').toString())
  return new Set([header.alg as Algorithm])
}

type Verdict = 'verifies' | 'bad-signature' | 'set-rejected' | 'no-usable-key'

interface Outcome {
  readonly verdict: Verdict
  /** Why the set was rejected, or why its keys were skipped. */
  readonly reason?: string
}

function verifyWith(keys: readonly VerifyKey[], allowed: ReadonlySet<Algorithm>, jws: string) {
  try {
    const rules = { algorithms: allowed, typ: undefined }
    const signed = verifySignature(parseCompact(jws), rules, createStaticKeyResolver(keys))
    if ('then' in signed) throw new Error('a static resolver must verify synchronously')
    return true
  } catch (error) {
    expect(error).toBeInstanceOf(TokenInvalidError)
    expect((error as TokenInvalidError).status).toBe(401)
    expect((error as TokenInvalidError).code).toBe('token_invalid')
    return false
  }
}

/** Why `importPublicKey` refuses the keys of a set, for the keys `keysFromJwks` skipped. */
function refusals(set: JwkSet): string {
  return set.keys
    .map((jwk) => {
      try {
        importPublicKey(jwk, { where: 'jwksUri', name: 'keys[]' })
        return ''
      } catch (error) {
        return (error as Error).message
      }
    })
    .join('; ')
}

function remote(set: JwkSet, jws: string): Outcome {
  const allowed = allowedFor(jws)
  let keys: VerifyKey[]
  try {
    keys = keysFromJwks(set, allowed, 100)
  } catch (error) {
    return { verdict: 'set-rejected', reason: (error as Error).message }
  }
  if (keys.length === 0) return { verdict: 'no-usable-key', reason: refusals(set) }
  return { verdict: verifyWith(keys, allowed, jws) ? 'verifies' : 'bad-signature' }
}

/** A key option of `createAuth`, as the configuration path names it. */
const at = (name: string) => ({ where: 'createAuth', name })

function configured(set: JwkSet, jws: string): Outcome {
  const allowed = allowedFor(jws)
  let keys: VerifyKey[]
  try {
    const imported = set.keys.map((jwk, i) => importKeyInput(jwk, at(`keys[${i}]`)))
    assertKeySet(imported, at('keys'))
    keys = imported.map((key, i) => {
      const ready = toVerifyKey(key, allowed, at(`keys[${i}]`))
      if (ready === undefined) throw new TypeError(`keys[${i}]: the key cannot be used`)
      return ready
    })
  } catch (error) {
    expect(error).toBeInstanceOf(TypeError)
    return { verdict: 'set-rejected', reason: (error as Error).message }
  }
  return { verdict: verifyWith(keys, allowed, jws) ? 'verifies' : 'bad-signature' }
}

interface Expected {
  readonly verdict: Verdict
  readonly reason?: RegExp
}

const verifies: Expected = { verdict: 'verifies' }
const badSignature: Expected = { verdict: 'bad-signature' }
const rejected = (reason: RegExp): Expected => ({ verdict: 'set-rejected', reason })
const skipped = (reason: RegExp): Expected => ({ verdict: 'no-usable-key', reason })
const SECRET_IN_JWKS = rejected(/private or symmetric key; the set is rejected/)
const NOT_FOR_SIGNATURES = /must be a JWK for signatures \("use": "sig"\)/
const UNIMPORTABLE = /must be a JWK that imports as a public key/

/**
 * The expected outcome of every vector on each path, and why. Symmetric sets are rejected whole
 * on the remote path by design (a JWKS URL serves public keys; a secret there is leaked), so the
 * valid symmetric vectors (2, 13, 14, 15) are accepted through the configuration only.
 */
const EXPECTED: Record<number, { remote: Expected; config: Expected; why: string }> = {
  1: {
    remote: SECRET_IN_JWKS,
    config: rejected(/keys must be all HMAC secrets or all public keys, not a mix/),
    why: 'an HMAC secret next to an EC public key: a set mixing them invites alg confusion',
  },
  2: { remote: SECRET_IN_JWKS, config: verifies, why: 'two HS256 secrets, distinct kids' },
  3: { remote: SECRET_IN_JWKS, config: badSignature, why: 'the set is fine, the MAC is not' },
  4: {
    remote: SECRET_IN_JWKS,
    config: rejected(/keys must be keys with distinct "kid"s/),
    why: 'two secrets under one kid: key selection would be ambiguous',
  },
  5: { remote: verifies, config: verifies, why: 'a 2048-bit RS256 public key' },
  6: {
    remote: skipped(NOT_FOR_SIGNATURES),
    config: rejected(NOT_FOR_SIGNATURES),
    why: 'an encryption key (use: enc, alg: RSA1_5) is not a signature key',
  },
  7: {
    remote: skipped(/without the ROCA fingerprint/),
    config: rejected(/without the ROCA fingerprint/),
    why: 'the modulus has the ROCA fingerprint (CVE-2017-15361): it can be factored',
  },
  8: {
    remote: skipped(/an RSA key of at least 2048 bits \(this one has 1024\)/),
    config: rejected(/an RSA key of at least 2048 bits/),
    why: 'RSA under 2048 bits',
  },
  9: {
    remote: skipped(/a valid public exponent/),
    config: rejected(/a valid public exponent/),
    why: 'RSA public exponent 1: every "signature" is the padded hash itself',
  },
  ...Object.fromEntries(
    [10, 11, 12].map((tcId) => [
      tcId,
      {
        remote: SECRET_IN_JWKS,
        config: rejected(/must be at least (32|48|64) bytes for HS(256|384|512)/),
        why: 'an HMAC key shorter than the hash output',
      },
    ]),
  ),
  ...Object.fromEntries(
    [13, 14, 15].map((tcId) => [
      tcId,
      { remote: SECRET_IN_JWKS, config: verifies, why: 'an HMAC key longer than the hash output' },
    ]),
  ),
  ...Object.fromEntries(
    [16, 17, 18].map((tcId) => [
      tcId,
      {
        remote: SECRET_IN_JWKS,
        config: rejected(/must be an "oct" JWK with its key bytes \("k"\)/),
        why: 'an empty HMAC key',
      },
    ]),
  ),
  19: {
    remote: skipped(/a JWK whose "alg" fits its key type/),
    config: rejected(/a JWK whose "alg" fits its key type/),
    why: 'alg ES521 (not even a JWS name) on a P-256 key',
  },
  20: {
    remote: skipped(/a JWK whose "alg" fits its key type/),
    config: rejected(/a JWK whose "alg" fits its key type/),
    why: 'alg ES224 (not a JWS algorithm) on a P-256 key',
  },
  21: {
    remote: skipped(NOT_FOR_SIGNATURES),
    config: rejected(NOT_FOR_SIGNATURES),
    why: 'use: enc',
  },
  22: {
    remote: skipped(UNIMPORTABLE),
    config: rejected(UNIMPORTABLE),
    why: 'the EC point is not on P-256 (invalid-curve attacks need such points accepted)',
  },
  23: {
    remote: skipped(UNIMPORTABLE),
    config: rejected(UNIMPORTABLE),
    why: 'P-256 coordinates under crv P-384',
  },
  24: {
    remote: skipped(UNIMPORTABLE),
    config: rejected(UNIMPORTABLE),
    why: 'EC members under kty RSA',
  },
  ...Object.fromEntries(
    [25, 26].map((tcId) => [
      tcId,
      {
        remote: SECRET_IN_JWKS,
        config: rejected(/a JWK whose "alg" is an HMAC algorithm/),
        why: 'an AES key (A256GCM / A256KW) is not a signature key, whatever its use says',
      },
    ]),
  ),
}

function expectOutcome(actual: Outcome, expected: Expected): void {
  expect(actual.verdict).toBe(expected.verdict)
  if (expected.reason !== undefined) expect(actual.reason).toMatch(expected.reason)
}

describe('Wycheproof json_web_key_test.json through our JWK Set policy', () => {
  it('has the counts of PROVENANCE.md (26 tests: 5 valid, 21 invalid, none acceptable)', () => {
    const count = (result: Result) => all.filter(({ test }) => test.result === result).length
    expect(vectors.numberOfTests).toBe(26)
    expect(all).toHaveLength(26)
    expect({
      valid: count('valid'),
      invalid: count('invalid'),
      acceptable: count('acceptable'),
    }).toEqual({ valid: 5, invalid: 21, acceptable: 0 })
    expect(Object.keys(EXPECTED).map(Number)).toEqual(all.map(({ test }) => test.tcId))
  })

  it.each(all.map(({ group, test }) => ({ group, test, ...EXPECTED[test.tcId]! })))(
    'tcId $test.tcId $group.comment $test.comment ($test.result): $why',
    ({ group, test, remote: onRemote, config: onConfig }) => {
      const set = keySet(group)
      const fromRemote = remote(set, test.jws)
      const fromConfig = configured(set, test.jws)
      expectOutcome(fromRemote, onRemote)
      expectOutcome(fromConfig, onConfig)
      // the label holds: valid = some path accepts the set and verifies; invalid = none does
      const verified = [fromRemote, fromConfig].some((o) => o.verdict === 'verifies')
      expect(verified).toBe(test.result === 'valid')
    },
  )
})

describe('keysFromJwks: what rejects a remote set whole, and what is skipped', () => {
  const rsa = keySet(vector(5).group).keys[0]!
  const rsaPrivate = vector(5).group.private!.keys[0]!
  const ec = vector(1).group.private!.keys[1]!
  const allowed = new Set<Algorithm>(['RS256', 'ES256'])

  it('accepts public keys, and RSA and EC keys that share a kid (RFC 7517 section 4.5)', () => {
    expect(ec.kty).toBe('EC')
    const keys = keysFromJwks({ keys: [rsa, { ...ec, kid: rsa.kid }] }, allowed, 100)
    expect(keys.map((k) => [k.kid, [...k.checks.keys()]])).toEqual([
      ['kid-rsa-sign', ['RS256']],
      ['kid-rsa-sign', ['ES256']],
    ])
  })

  it('rejects a set with a private key even when its other keys are public', () => {
    expect('d' in rsaPrivate).toBe(true)
    expect(() =>
      keysFromJwks({ keys: [ec, { ...rsaPrivate, kid: 'other' }] }, allowed, 100),
    ).toThrow('keys[1] is a private or symmetric key; the set is rejected')
  })

  it('rejects a private key even when it is an encryption key, and past maxKeys', () => {
    const enc = { ...rsaPrivate, use: 'enc', kid: 'enc' }
    expect(() => keysFromJwks({ keys: [rsa, enc] }, allowed, 1)).toThrow('keys[1] is a private')
  })

  it('rejects two signature keys of one type under one kid', () => {
    const twin = { ...rsa, alg: 'PS256' }
    expect(() => keysFromJwks({ keys: [rsa, twin] }, new Set(['RS256', 'PS256']), 100)).toThrow(
      'keys[1] repeats a "kid"; the set is rejected',
    )
  })

  it("lets an encryption key share a signature key's kid (it is skipped, not compared)", () => {
    const keys = keysFromJwks(
      { keys: [rsa, { ...rsa, use: 'enc', alg: 'RSA-OAEP' }] },
      allowed,
      100,
    )
    expect(keys).toHaveLength(1)
  })

  it('skips unusable keys and keeps the rest', () => {
    const weak = keySet(vector(8).group).keys[0]!
    const roca = keySet(vector(7).group).keys[0]!
    const keys = keysFromJwks({ keys: [weak, roca, 'x', null, rsa] }, allowed, 100)
    expect(keys.map((k) => k.kid)).toEqual(['kid-rsa-sign'])
  })

  it('rejects a document without a keys array', () => {
    expect(() => keysFromJwks({ key: [] }, allowed, 100)).toThrow('no "keys" array')
  })
})

describe('ROCA fingerprint (Nemec et al., CCS 2017)', () => {
  const rocaJwk = keySet(vector(7).group).keys[0]!

  it('uses the odd primes up to 167 and the subgroups generated by 65537', () => {
    const primes: number[] = []
    for (let n = 3; n <= 167; n += 2) {
      if (primes.every((p) => n % p !== 0)) primes.push(n)
    }
    expect(ROCA_PRIMES).toEqual(primes)
    // r is in the cyclic subgroup <g> of (Z/pZ)* exactly when r^ord(g) = 1 (mod p)
    const power = (b: bigint, e: number, m: bigint) => {
      let r = 1n
      for (let i = 0; i < e; i++) r = (r * b) % m
      return r
    }
    ROCA_PRIMES.forEach((p, i) => {
      const m = BigInt(p)
      const g = 65537n % m
      let order = 1
      while (power(g, order, m) !== 1n) order++
      for (let r = 0; r < p; r++) {
        const member = r !== 0 && power(BigInt(r), order, m) === 1n
        expect(((ROCA_SUBGROUP_MASKS[i]! >> BigInt(r)) & 1n) === 1n, `p=${p} r=${r}`).toBe(member)
      }
    })
  })

  it('flags the vulnerable key of tcId 7, as bytes and as a KeyObject', () => {
    const n = Buffer.from(rocaJwk.n!, 'base64url')
    expect(hasRocaFingerprint(n)).toBe(true)
    const key = createPublicKey({ key: rocaJwk, format: 'jwk' })
    expect(rsaModulus(key)).toBe(BigInt(`0x${n.toString('hex')}`))
  })

  it('flags any product of powers of 65537 (the structure the fingerprint tests)', () => {
    expect(hasRocaFingerprint(65537n ** 7n)).toBe(true)
    expect(hasRocaFingerprint(65537n ** 7n * 3n + 2n)).toBe(false)
  })

  it('makes importPublicKey refuse the key in every input form', () => {
    const key = createPublicKey({ key: rocaJwk, format: 'jwk' })
    const pem = key.export({ type: 'spki', format: 'pem' }).toString()
    for (const input of [rocaJwk, pem, key]) {
      expect(() => importPublicKey(input, at('publicKey'))).toThrow(
        'createAuth: publicKey must be an RSA key without the ROCA fingerprint (CVE-2017-15361: this one can be factored; replace it)',
      )
    }
  })

  it('passes freshly generated RSA and RSA-PSS keys of 2048 bits', () => {
    const fresh = [
      ...Array.from({ length: 6 }, () => generateKeyPairSync('rsa', { modulusLength: 2048 })),
      ...Array.from({ length: 2 }, () => generateKeyPairSync('rsa-pss', { modulusLength: 2048 })),
    ]
    for (const { publicKey } of fresh) {
      const n = rsaModulus(publicKey)
      expect(n?.toString(2)).toHaveLength(2048)
      expect(hasRocaFingerprint(n!)).toBe(false)
      expect(importPublicKey(publicKey, at('publicKey')).key).toBe(publicKey)
    }
  })

  it('passes the other RSA keys of the vectors', () => {
    const moduli = all
      .flatMap(({ group }) => group.public?.keys ?? [])
      .filter((jwk) => jwk.kty === 'RSA' && typeof jwk.n === 'string' && jwk !== rocaJwk)
      .map((jwk) => Buffer.from(jwk.n!, 'base64url'))
    expect(moduli.length).toBeGreaterThan(0)
    for (const n of moduli) expect(hasRocaFingerprint(n)).toBe(false)
  })

  it('has no modulus for non-RSA keys', () => {
    expect(rsaModulus(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey)).toBeUndefined()
    expect(rsaModulus(generateKeyPairSync('ed25519').publicKey)).toBeUndefined()
  })
})
