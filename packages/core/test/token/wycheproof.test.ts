/**
 * The Wycheproof JSON Web Signature vectors (C2SP/wycheproof, `testvectors_v1/`, copied unchanged
 * into `<repo>/../shared/vectors/wycheproof/`; see PROVENANCE.md there) run through our JWS layer:
 * the strict compact-form check (`parseCompact`) and the signature layer (`verifySignature`:
 * header rules, key selection, signature). The payloads are arbitrary bytes ("foo", zeros), not
 * claim sets, so the payload-as-JSON-object step of `verifyJws` and the claim checks are not run.
 */
import type { JsonWebKey } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { compactVerify, importJWK } from 'jose'
import { describe, expect, it } from 'vitest'
import { TokenInvalidError } from '../../src/errors.js'
import { parseCompact } from '../../src/token/compact.js'
import { createStaticKeyResolver } from '../../src/token/key-resolver.js'
import { importPublicKey, importSecret, toVerifyKey, type VerifyKey } from '../../src/token/keys.js'
import { verifySignature } from '../../src/token/verify.js'

type Result = 'valid' | 'invalid' | 'acceptable'

interface JwsVector {
  readonly tcId: number
  readonly comment: string
  readonly jws: string
  readonly result: Result
  readonly flags: readonly string[]
}

interface JwsGroup {
  readonly comment: string
  readonly public?: JsonWebKey
  readonly private?: JsonWebKey
  readonly tests: readonly JwsVector[]
}

interface VectorFile {
  readonly numberOfTests: number
  readonly testGroups: readonly JwsGroup[]
}

// The repository and `shared/` sit side by side (locally and in CI): <repo>/../shared/vectors/...
const FILE = new URL(
  '../../../../../shared/vectors/wycheproof/json_web_signature_test.json',
  import.meta.url,
)
const vectors = JSON.parse(readFileSync(FILE, 'utf8')) as VectorFile

const all = vectors.testGroups.flatMap((group) => group.tests.map((test) => ({ group, test })))
const byId = new Map(all.map((entry) => [entry.test.tcId, entry]))

function vector(tcId: number) {
  const entry = byId.get(tcId)
  if (entry === undefined) throw new Error(`no Wycheproof vector ${tcId}`)
  return entry
}

/** Valid JWS whose payload segment is empty (`header..signature`): not JWTs, see below. */
const EMPTY_PAYLOAD = [259, 264, 268, 272, 320, 325]

/**
 * Where we knowingly depart from the file's label. Each one has its own test below that
 * re-establishes the reason, so a change in the file is noticed.
 */
const DECISIONS = new Map<number, { outcome: 'verified' | 'rejected'; why: string }>([
  [367, { outcome: 'verified', why: 'byte-identical to valid tcId 357 (defective vector)' }],
  [370, { outcome: 'verified', why: 'byte-identical to valid tcId 357 (defective vector)' }],
  [372, { outcome: 'rejected', why: '"?" inside a segment (RFC 7519 section 7.2)' }],
  [373, { outcome: 'rejected', why: '"?" inside a segment (RFC 7519 section 7.2)' }],
  ...EMPTY_PAYLOAD.map(
    (tcId) => [tcId, { outcome: 'rejected', why: 'empty payload: never a JWT' }] as const,
  ),
])

/** `acceptable` vectors may go either way; we would reject them (strict). The file has none. */
function expectedOutcome(test: JwsVector): 'verified' | 'rejected' {
  return DECISIONS.get(test.tcId)?.outcome ?? (test.result === 'valid' ? 'verified' : 'rejected')
}

/** The header's `alg`, peeked at leniently: only to choose the allowlist, as an application would. */
function headerAlg(jws: string): unknown {
  try {
    return JSON.parse(Buffer.from(jws.slice(0, jws.indexOf('.')), 'base64url').toString('utf8')).alg
  } catch {
    return undefined
  }
}

/**
 * The verification key of a group: its `public` JWK, else its `private` JWK when that is an `oct`
 * key (a symmetric key is the HMAC secret itself). A private asymmetric key is never used to
 * verify. The allowlist is the token header's `alg` constrained to what the key can serve: its
 * type's algorithms, narrowed by the JWK's own `alg` (so a PS512 key refuses an RS256 header,
 * vectors 331-340, and an EC key an HS256 header, vector 31). In the rfc7520 groups the key's
 * `alg` names another algorithm than the token header (PS256 vs PS384, ES521 vs ES512, see
 * PROVENANCE.md), so there it is ignored and only the key type constrains the header's `alg`.
 * Returns `undefined` when the key cannot serve the header's `alg` (then nothing is allowed).
 */
function groupKey(group: JwsGroup, jws: string): VerifyKey | undefined {
  let jwk = group.public
  if (jwk === undefined) {
    if (group.private?.kty !== 'oct') throw new Error(`group ${group.comment}: no public key`)
    jwk = group.private
  }
  if (group.comment.startsWith('rfc7520')) {
    const { alg: _ignored, ...rest } = jwk
    jwk = rest
  }
  const option = { where: 'wycheproof', name: group.comment }
  const imported = jwk.kty === 'oct' ? importSecret(jwk, option) : importPublicKey(jwk, option)
  const alg = headerAlg(jws)
  return toVerifyKey(imported, new Set(imported.algorithms.filter((a) => a === alg)), option)
}

type Outcome =
  | { readonly verified: true }
  | { readonly verified: false; readonly stage: 'key' | 'token'; readonly error: unknown }

function run(group: JwsGroup, jws: string): Outcome {
  let key: VerifyKey | undefined
  try {
    key = groupKey(group, jws)
  } catch (error) {
    return { verified: false, stage: 'key', error }
  }
  try {
    const keys = key === undefined ? [] : [key]
    const rules = { algorithms: new Set(keys.flatMap((k) => [...k.checks.keys()])), typ: undefined }
    const signed = verifySignature(parseCompact(jws), rules, createStaticKeyResolver(keys))
    if ('then' in signed) throw new Error('a static resolver must verify synchronously')
    return { verified: true }
  } catch (error) {
    return { verified: false, stage: 'token', error }
  }
}

/** A rejection is a configuration `TypeError` at key import or a 401 `token_invalid`. */
function expectRejected(outcome: Outcome): void {
  expect(outcome.verified).toBe(false)
  if (outcome.verified) return
  if (outcome.stage === 'key') {
    expect(outcome.error).toBeInstanceOf(TypeError)
    return
  }
  expect(outcome.error).toBeInstanceOf(TokenInvalidError)
  const error = outcome.error as TokenInvalidError
  expect({ status: error.status, code: error.code }).toEqual({ status: 401, code: 'token_invalid' })
  expect(error.headers['www-authenticate']).toContain('error="invalid_token"')
}

describe('Wycheproof json_web_signature_test.json', () => {
  it('has the counts of PROVENANCE.md (401 tests: 46 valid, 355 invalid, none acceptable)', () => {
    const count = (result: Result) => all.filter(({ test }) => test.result === result).length
    expect(vectors.numberOfTests).toBe(401)
    expect(all).toHaveLength(401)
    expect(byId.size).toBe(401)
    expect({
      valid: count('valid'),
      invalid: count('invalid'),
      acceptable: count('acceptable'),
    }).toEqual({ valid: 46, invalid: 355, acceptable: 0 })
  })

  describe.each(vectors.testGroups.map((group, i) => ({ group, name: `${i} ${group.comment}` })))(
    'group $name',
    ({ group }) => {
      it.each(group.tests.map((test) => ({ test, expected: expectedOutcome(test) })))(
        'tcId $test.tcId $test.comment ($test.result) -> $expected',
        ({ test, expected }) => {
          const outcome = run(group, test.jws)
          if (expected === 'verified') expect(outcome).toEqual({ verified: true })
          else expectRejected(outcome)
        },
      )
    },
  )

  describe('documented decisions', () => {
    // tcId 367 ("invalidBase64Padding") and 370 ("invalidBase64PaddingInPayload") were meant to
    // carry a base64 defect but are byte-for-byte the valid tcId 357. A verifier is a function
    // of its input: it cannot accept 357 and reject the very same string. We accept them, and
    // assert the identity so that a fixed file (which would then differ from 357) is noticed.
    it.each([367, 370])(
      'tcId %i is labelled invalid but is identical to valid 357: accepted',
      (tcId) => {
        const reference = vector(357)
        const { group, test } = vector(tcId)
        expect(reference.test.result).toBe('valid')
        expect(test.result).toBe('invalid')
        expect(test.jws).toBe(reference.test.jws)
        expect(group).toBe(reference.group)
        expect(run(group, test.jws)).toEqual({ verified: true })
      },
    )

    // tcId 372 and 373 have a "?" inserted into the header / payload segment and are labelled
    // valid, presumably because some decoders skip characters outside the alphabet. RFC 7519
    // section 7.2 (and RFC 7515 section 7.1: segments are BASE64URL) makes such input invalid,
    // and a lenient decoder lets two different strings carry the same signed content. We reject
    // them in the strict compact-form check, before any decoding.
    it.each([372, 373])('tcId %i is labelled valid but has "?" in a segment: rejected', (tcId) => {
      const { group, test } = vector(tcId)
      expect(test.result).toBe('valid')
      const segments = test.jws.split('.')
      expect(segments).toHaveLength(3)
      expect(segments.slice(0, 2).some((segment) => segment.includes('?'))).toBe(true)
      expect(() => parseCompact(test.jws)).toThrow(TokenInvalidError)
      expect(() => parseCompact(test.jws)).toThrow('not canonical base64url')
      const outcome = run(group, test.jws)
      expectRejected(outcome)
      expect(outcome.verified === false && outcome.stage).toBe('token')
      // without the "?", the token is the valid tcId 357
      expect(test.jws.replace('?', '')).toBe(vector(357).test.jws)
    })

    // tcIds 259, 264, 268, 272, 320 and 325 ("emptyPayload") sign an empty payload, which a
    // general JWS allows (RFC 7515). This library verifies JWTs: RFC 7519 section 7.2 requires
    // the payload to be a JSON object, so an empty payload can never be accepted, and the strict
    // compact-form check refuses an empty segment before any signature work. The signatures are
    // correct: given the same three segments directly, the signature layer verifies them.
    it('the valid empty-payload vectors are exactly the listed ones', () => {
      const found = all.filter(({ test }) => test.result === 'valid' && test.jws.includes('..'))
      expect(found.map(({ test }) => test.tcId)).toEqual(EMPTY_PAYLOAD)
    })

    it.each(EMPTY_PAYLOAD)('tcId %i signs an empty payload: rejected as no JWT', (tcId) => {
      const { group, test } = vector(tcId)
      expect(test.result).toBe('valid')
      expect(() => parseCompact(test.jws)).toThrow('A segment of the token is empty.')
      const outcome = run(group, test.jws)
      expectRejected(outcome)
      expect(outcome.verified === false && outcome.stage).toBe('token')

      const key = groupKey(group, test.jws)!
      const dot1 = test.jws.indexOf('.')
      const dot2 = test.jws.lastIndexOf('.')
      const parts = {
        token: test.jws,
        dot1,
        dot2,
        header: Buffer.from(test.jws.slice(0, dot1), 'base64url'),
        payload: Buffer.alloc(0),
        signature: Buffer.from(test.jws.slice(dot2 + 1), 'base64url'),
      }
      expect(parts.dot2).toBe(parts.dot1 + 1)
      const rules = { algorithms: new Set(key.checks.keys()), typ: undefined }
      expect(verifySignature(parts, rules, createStaticKeyResolver([key]))).toMatchObject({
        alg: [...key.checks.keys()][0],
      })
    })
  })

  describe('the strict encoding check is needed in front of jose', () => {
    // jose 6 decodes base64url leniently: it drops whitespace inside a segment (360, 365, 368)
    // and ignores non-zero unused bits in a segment's last character (375), and the HMAC is over
    // the bytes as sent, so these tokens verify with jose alone. parseCompact refuses them.
    it.each([360, 365, 368, 375])('tcId %i: jose alone accepts it, we reject it', async (tcId) => {
      const { group, test } = vector(tcId)
      expect(test.result).toBe('invalid')
      const jwk = group.private
      expect(jwk?.kty).toBe('oct')
      const secret = await importJWK({ ...jwk }, 'HS256')
      const verified = await compactVerify(test.jws, secret, { algorithms: ['HS256'] })
      expect(verified.protectedHeader.alg).toBe('HS256')

      expect(() => parseCompact(test.jws)).toThrow('not canonical base64url')
      const outcome = run(group, test.jws)
      expectRejected(outcome)
      expect(outcome.verified === false && outcome.stage).toBe('token')
    })
  })
})
