import { describe, expect, it } from 'vitest'
import { createAuth, parseCompact, TokenInvalidError } from '../../src/index.js'
import { isCanonicalBase64url } from '../../src/token/base64url.js'
import {
  AUDIENCE,
  authErrorOf,
  claims,
  fakeClock,
  INVALID_TOKEN_CHALLENGE,
  ISSUER,
  rsaKeyPair,
  signJwt,
  summary,
} from '../helpers.js'

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'

/** The same bytes, spelt with non-zero unused bits in the last character (or undefined). */
function nonCanonical(segment: string): string | undefined {
  const rem = segment.length % 4
  if (rem === 0) return undefined
  const last = ALPHABET.indexOf(segment.at(-1)!)
  const spelt = segment.slice(0, -1) + ALPHABET[last | (rem === 2 ? 0x0f : 0x03)]
  return spelt === segment ? undefined : spelt
}

function canonical(value: string): boolean {
  return isCanonicalBase64url(value, 0, value.length)
}

describe('isCanonicalBase64url', () => {
  it.each(['', 'AA', 'AQ', 'Ag', 'AAA', 'AAE', 'AAAA', 'AAAAAA', '-_-_', 'eyJ9'])(
    '%j is canonical',
    (value) => {
      expect(canonical(value)).toBe(true)
    },
  )

  it.each([
    ['length 1 mod 4', 'A'],
    ['length 5', 'AAAAA'],
    ['unused bits in a 2-char tail', 'AB'],
    ['unused bits in a 2-char tail (P)', 'AP'],
    ['unused bits in a 3-char tail', 'AAB'],
    ['unused bits in a 3-char tail (D)', 'AAD'],
    ['padding', 'AA=='],
    ['one pad', 'AAA='],
    ['standard base64 +', 'AA+A'],
    ['standard base64 /', 'AA/A'],
    ['a space', 'AA A'],
    ['a tab', 'AA\tA'],
    ['a newline', 'AA\nA'],
    ['non-ASCII', 'AAéA'],
    ['a dot', 'AA.A'],
  ])('%s is not canonical', (_name, value) => {
    expect(canonical(value)).toBe(false)
  })

  it('checks only the given range', () => {
    expect(isCanonicalBase64url('x.AAAA.y', 2, 6)).toBe(true)
    expect(isCanonicalBase64url('x.AAB.y', 2, 5)).toBe(false)
  })

  it('rejects exactly the spellings a lenient decoder maps to the same bytes', () => {
    for (const bytes of [1, 2, 4, 5, 31, 32, 256]) {
      const value = Buffer.alloc(bytes, 0xa5).toString('base64url')
      expect(canonical(value)).toBe(true)
      const other = nonCanonical(value)
      expect(other).toBeDefined()
      expect(Buffer.from(other!, 'base64url')).toEqual(Buffer.from(value, 'base64url'))
      expect(canonical(other!)).toBe(false)
    }
  })
})

describe('parseCompact', () => {
  const good = 'eyJhbGciOiJSUzI1NiJ9.e30.AAAA'

  it('returns the positions of the two dots', () => {
    const [h, p, sig] = good.split('.') as [string, string, string]
    expect(parseCompact(good)).toEqual({
      token: good,
      dot1: 20,
      dot2: 24,
      header: Buffer.from(h, 'base64url'),
      payload: Buffer.from(p, 'base64url'),
      signature: Buffer.from(sig, 'base64url'),
    })
  })

  it.each([
    ['one segment', 'eyJhbGciOiJSUzI1NiJ9'],
    ['two segments', 'eyJhbGciOiJSUzI1NiJ9.e30'],
    ['four segments', `${good}.AAAA`],
    ['five segments (JWE)', 'eyJ9.AAAA.AAAA.AAAA.AAAA'],
    ['empty header', '.e30.AAAA'],
    ['empty payload', 'eyJ9..AAAA'],
    ['empty signature', 'eyJhbGciOiJSUzI1NiJ9.e30.'],
    ['empty', ''],
    ['dots only', '..'],
    ['padding in the header', 'eyJhbGciOiJSUzI1NiJ9==.e30.AAAA'],
    ['padding in the payload', 'eyJhbGciOiJSUzI1NiJ9.e30=.AAAA'],
    ['padding in the signature', 'eyJhbGciOiJSUzI1NiJ9.e30.AA=='],
    ['a space in a segment', 'eyJhbGciOiJS UzI1NiJ9.e30.AAAA'],
    ['a leading space', ' eyJhbGciOiJSUzI1NiJ9.e30.AAAA'],
    ['a trailing newline', `${good}\n`],
    ['a tab', 'eyJhbGciOiJSUzI1NiJ9.e3\t0.AAAA'],
    ['standard base64', 'eyJhbGciOiJSUzI1NiJ9.e30.AA+/'],
    ['non-canonical ending', 'eyJhbGciOiJSUzI1NiJ9.e31.AAAA'],
    ['a compressed prefix', 'compressed:eyJhbGciOiJSUzI1NiJ9.e30.AAAA'],
  ])('%s is token_invalid', (_name, token) => {
    let error: unknown
    try {
      parseCompact(token)
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(TokenInvalidError)
    expect(error).toMatchObject({ code: 'token_invalid', status: 401 })
  })
})

describe('verify: the strict compact form comes before any decoding', () => {
  const keys = rsaKeyPair()
  const { clock } = fakeClock()
  const auth = createAuth({
    algorithms: ['RS256'],
    publicKey: keys.publicPem,
    issuer: ISSUER,
    audience: AUDIENCE,
    cache: false,
    clock,
  })

  /** A valid token whose payload segment length is not a multiple of 4. */
  async function tokenWithRaggedPayload(nonce = 0): Promise<string> {
    for (let pad = 0; ; pad++) {
      const token = await signJwt(claims({ nonce, pad: 'x'.repeat(pad) }), keys.privateKey)
      if (token.split('.')[1]!.length % 4 !== 0) return token
    }
  }

  async function expectNotCanonical(token: string, description: string) {
    const error = await authErrorOf(() => auth.verify(token))
    expect(summary(error)).toEqual({
      code: 'token_invalid',
      status: 401,
      'www-authenticate': INVALID_TOKEN_CHALLENGE(description),
    })
  }

  it('accepts the canonical token', async () => {
    const token = await tokenWithRaggedPayload()
    await expect(auth.verify(token)).resolves.toMatchObject({ sub: 'user-1' })
  })

  it('rejects a signature whose last character has non-zero unused bits', async () => {
    const token = await tokenWithRaggedPayload()
    const [h, p, s] = token.split('.') as [string, string, string]
    const spelt = nonCanonical(s)! // 256 bytes: 342 characters, 4 unused bits
    expect(Buffer.from(spelt, 'base64url')).toEqual(Buffer.from(s, 'base64url'))
    await expectNotCanonical(`${h}.${p}.${spelt}`, 'The token is not canonical base64url.')
  })

  it('rejects a payload whose last character has non-zero unused bits', async () => {
    const token = await tokenWithRaggedPayload()
    const [h, p, s] = token.split('.') as [string, string, string]
    await expectNotCanonical(
      `${h}.${nonCanonical(p)}.${s}`,
      'The token is not canonical base64url.',
    )
  })

  it.each([
    ['padding on the signature', (h: string, p: string, s: string) => `${h}.${p}.${s}==`],
    [
      'a space inside the payload',
      (h: string, p: string, s: string) => `${h}.${p.slice(0, 5)} ${p.slice(5)}.${s}`,
    ],
    [
      'a newline inside the signature',
      (h: string, p: string, s: string) => `${h}.${p}.${s.slice(0, 9)}\n${s.slice(9)}`,
    ],
    [
      'standard base64 in the signature',
      (h: string, p: string, s: string) =>
        `${h}.${p}.${s.replaceAll('-', '+').replaceAll('_', '/')}`,
    ],
  ])('rejects %s', async (_name, mangle) => {
    // make sure the standard-base64 case really changes something
    let token = await tokenWithRaggedPayload()
    for (let nonce = 1; !/[-_]/.test(token.split('.')[2]!); nonce++) {
      token = await tokenWithRaggedPayload(nonce)
    }
    const [h, p, s] = token.split('.') as [string, string, string]
    const error = await authErrorOf(() => auth.verify(mangle(h, p, s)))
    expect(error).toMatchObject({ code: 'token_invalid', status: 401 })
  })

  it('rejects a JWE-shaped token (five segments)', async () => {
    await expectNotCanonical(
      'eyJhbGciOiJSU0EtT0FFUCJ9.AAAA.AAAA.AAAA.AAAA',
      'The token is not a compact JWS of three segments.',
    )
  })
})
