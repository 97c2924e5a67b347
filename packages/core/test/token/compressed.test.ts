import { deflateRawSync, inflateRawSync } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import {
  COMPRESSED_PREFIX,
  createAuth,
  decodeCompressed,
  TokenInvalidError,
} from '../../src/index.js'
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

function compress(text: string | Buffer): string {
  return COMPRESSED_PREFIX + deflateRawSync(text).toString('base64url')
}

/** 16 MiB of "a" as raw DEFLATE: about 16 KB of bytes, about 22 KB of base64url text. */
const BOMB = deflateRawSync(Buffer.alloc(16 * 1024 * 1024, 0x61), { level: 9 })
const BOMB_TOKEN = COMPRESSED_PREFIX + BOMB.toString('base64url')

/**
 * The fastest of five runs, in milliseconds. Times are compared with inflating the whole bomb on
 * the same thread, measured the same way: a busy machine slows both alike. Stopping at the cap
 * takes about 1.5 ms here, the whole 16 MiB about 30 ms.
 */
async function best(run: () => unknown): Promise<number> {
  let fastest = Number.POSITIVE_INFINITY
  for (let i = 0; i < 5; i++) {
    const start = performance.now()
    await run()
    fastest = Math.min(fastest, performance.now() - start)
  }
  return fastest
}
const WHOLE_BOMB_MS = await best(() => inflateRawSync(BOMB))

function decodeError(value: string, maxBytes = 16_384): TokenInvalidError {
  try {
    decodeCompressed(value, maxBytes)
  } catch (error) {
    expect(error).toBeInstanceOf(TokenInvalidError)
    expect(error).toMatchObject({ code: 'token_invalid', status: 401 })
    return error as TokenInvalidError
  }
  throw new Error('expected decodeCompressed to throw')
}

describe('decodeCompressed', () => {
  it('inflates a compressed compact JWT', () => {
    const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1In0.AAAA'
    expect(decodeCompressed(compress(jwt), 16_384)).toBe(jwt)
  })

  it('allows exactly maxBytes of output and not one more', () => {
    expect(decodeCompressed(compress('a'.repeat(1000)), 1000)).toHaveLength(1000)
    expect(decodeError(compress('a'.repeat(1001)), 1000).message).toBe(
      'The compressed token inflates beyond 1000 bytes.',
    )
  })

  it('rejects a 16 MiB bomb in milliseconds', async () => {
    expect(BOMB_TOKEN.length).toBeGreaterThan(20_000)
    expect(BOMB_TOKEN.length).toBeLessThan(24_000)
    expect(decodeError(BOMB_TOKEN).message).toBe(
      'The compressed token inflates beyond 16384 bytes.',
    )
    expect(await best(() => decodeError(BOMB_TOKEN))).toBeLessThan(WHOLE_BOMB_MS / 4)
  })

  it('stops inflating at the cap: a truncated bomb fails on size, never reaching its end', () => {
    // Inflating the whole stream would end in "unexpected end of file"; stopping at the cap
    // reports the size, so the output cap is enforced during inflation, not after it.
    const truncated = BOMB.subarray(0, BOMB.length >> 1)
    const error = decodeError(COMPRESSED_PREFIX + truncated.toString('base64url'))
    expect(error.message).toBe('The compressed token inflates beyond 16384 bytes.')
    // The same truncated stream under a cap it never reaches is reported as truncated.
    const small = deflateRawSync(Buffer.alloc(10_000, 0x61))
    const cut = COMPRESSED_PREFIX + small.subarray(0, small.length - 1).toString('base64url')
    expect(decodeError(cut, 1_000_000).message).toBe(
      'The compressed token is not a valid DEFLATE stream.',
    )
  })

  it.each([
    ['garbage', COMPRESSED_PREFIX + Buffer.from('garbage!garbage!').toString('base64url')],
    ['an empty stream', COMPRESSED_PREFIX + 'AA'],
    [
      'a truncated stream',
      (() => {
        const full = deflateRawSync('eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1In0.AAAA')
        return COMPRESSED_PREFIX + full.subarray(0, full.length - 3).toString('base64url')
      })(),
    ],
  ])('rejects %s as an invalid DEFLATE stream', (_name, value) => {
    expect(decodeError(value).message).toBe('The compressed token is not a valid DEFLATE stream.')
  })

  it('rejects bytes after the DEFLATE stream', () => {
    const stream = deflateRawSync('eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1In0.AAAA')
    for (const tail of [Buffer.from([0]), Buffer.from('xx'), stream]) {
      const value = COMPRESSED_PREFIX + Buffer.concat([stream, tail]).toString('base64url')
      expect(decodeError(value).message).toBe(
        'The compressed token has bytes after the DEFLATE stream.',
      )
    }
  })

  it.each([
    ['empty', COMPRESSED_PREFIX],
    ['padded', compress('eyJ9.e30.AAAA') + '=='],
    ['a space', compress('eyJ9.e30.AAAA').replace(':', ': ')],
    ['standard base64', COMPRESSED_PREFIX + '+/+/'],
    ['length 1 mod 4', COMPRESSED_PREFIX + 'AAAAA'],
  ])('rejects non-canonical base64url: %s', (_name, value) => {
    expect(decodeError(value).message).toBe('The compressed token is not canonical base64url.')
  })

  it('rejects a non-canonical spelling of a valid stream', () => {
    let value = compress('eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1In0.AAAA')
    for (let pad = 0; (value.length - COMPRESSED_PREFIX.length) % 4 === 0; pad++) {
      value = compress(`eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1In0.AAAA${'A'.repeat(pad * 4)}`)
    }
    const rem = (value.length - COMPRESSED_PREFIX.length) % 4
    const last = ALPHABET.indexOf(value.at(-1)!)
    const spelt = value.slice(0, -1) + ALPHABET[last | (rem === 2 ? 0x0f : 0x03)]
    expect(spelt).not.toBe(value)
    expect(Buffer.from(spelt.slice(11), 'base64url')).toEqual(
      Buffer.from(value.slice(11), 'base64url'),
    )
    expect(decodeError(spelt).message).toBe('The compressed token is not canonical base64url.')
  })
})

describe('verify: compressed tokens', () => {
  const keys = rsaKeyPair()
  const { clock } = fakeClock()
  const options = {
    algorithms: ['RS256'] as const,
    publicKey: keys.publicPem,
    issuer: ISSUER,
    audience: AUDIENCE,
    clock,
  }
  const auth = createAuth({ ...options, algorithms: ['RS256'] })
  // a credential cap large enough to let the bomb reach the inflater
  const roomy = createAuth({ ...options, algorithms: ['RS256'], maxTokenBytes: 65_536 })

  it('verifies a compressed token like the plain one', async () => {
    const jwt = await signJwt(claims({ perms: ['orders:read'] }), keys.privateKey)
    const plain = await auth.verify(jwt)
    const packed = await auth.verify(compress(jwt))
    expect(packed).toEqual(plain)
    expect(packed.permissions).toEqual(['orders:read'])
  })

  it('accepts a compressed token in the Authorization header', async () => {
    const jwt = await signJwt(claims(), keys.privateKey)
    const ctx = await auth.authenticate({ authorization: `Bearer ${compress(jwt)}` })
    expect(ctx?.sub).toBe('user-1')
  })

  it('rejects the bomb by the credential cap before any work', async () => {
    const error = await authErrorOf(() => auth.verify(BOMB_TOKEN))
    expect(summary(error)).toEqual({
      code: 'token_invalid',
      status: 401,
      'www-authenticate': INVALID_TOKEN_CHALLENGE('The token is longer than 8192 bytes.'),
    })
  })

  it('rejects the bomb during inflation, in milliseconds, when the cap lets it through', async () => {
    const error = await authErrorOf(() => roomy.verify(BOMB_TOKEN))
    expect(summary(error)).toEqual({
      code: 'token_invalid',
      status: 401,
      'www-authenticate': INVALID_TOKEN_CHALLENGE(
        'The compressed token inflates beyond 16384 bytes.',
      ),
    })
    expect(await best(() => authErrorOf(() => roomy.verify(BOMB_TOKEN)))).toBeLessThan(
      WHOLE_BOMB_MS / 4,
    )
  })

  it('never recurses: a compressed token inside a compressed token is rejected', async () => {
    const jwt = await signJwt(claims(), keys.privateKey)
    const twice = compress(compress(jwt))
    const error = await authErrorOf(() => auth.verify(twice))
    expect(summary(error)).toEqual({
      code: 'token_invalid',
      status: 401,
      'www-authenticate': INVALID_TOKEN_CHALLENGE(
        'The token is not a compact JWS of three segments.',
      ),
    })
  })

  it('puts the inner token through the strict compact check', async () => {
    const jwt = await signJwt(claims(), keys.privateKey)
    for (const inner of [`${jwt}==`, ` ${jwt}`, `${jwt}\n`, jwt.replace('.', '. ')]) {
      const error = await authErrorOf(() => auth.verify(compress(inner)))
      expect(error).toMatchObject({ code: 'token_invalid', status: 401 })
    }
    // non-ASCII bytes in the inflated text never turn into ASCII look-alikes
    const error = await authErrorOf(() =>
      auth.verify(compress(Buffer.concat([Buffer.from(jwt), Buffer.from([0xc4, 0xae])]))),
    )
    expect(error).toMatchObject({ code: 'token_invalid', status: 401 })
  })

  it('rejects garbage, trailing bytes and truncation as token_invalid, never a 500', async () => {
    const jwt = await signJwt(claims(), keys.privateKey)
    const stream = deflateRawSync(jwt)
    const cases = [
      COMPRESSED_PREFIX + 'Z2FyYmFnZQ',
      COMPRESSED_PREFIX + Buffer.concat([stream, Buffer.from('!')]).toString('base64url'),
      COMPRESSED_PREFIX + stream.subarray(0, stream.length - 2).toString('base64url'),
      COMPRESSED_PREFIX,
    ]
    for (const value of cases) {
      const error = await authErrorOf(() => auth.verify(value))
      expect(summary(error)).toMatchObject({ code: 'token_invalid', status: 401 })
    }
  })

  it('honours compressed.maxBytes', async () => {
    const small = createAuth({ ...options, algorithms: ['RS256'], compressed: { maxBytes: 64 } })
    const jwt = await signJwt(claims(), keys.privateKey)
    const error = await authErrorOf(() => small.verify(compress(jwt)))
    expect(error.message).toBe('The compressed token inflates beyond 64 bytes.')
  })

  it('refuses compressed tokens entirely with compressed: false', async () => {
    const off = createAuth({ ...options, algorithms: ['RS256'], compressed: false })
    const jwt = await signJwt(claims(), keys.privateKey)
    await expect(off.verify(jwt)).resolves.toMatchObject({ sub: 'user-1' })
    const error = await authErrorOf(() => off.verify(compress(jwt)))
    expect(summary(error)).toMatchObject({ code: 'token_invalid', status: 401 })
  })

  it('requires the exact, case-sensitive prefix', async () => {
    const jwt = await signJwt(claims(), keys.privateKey)
    const packed = compress(jwt)
    for (const prefix of ['Compressed:', 'COMPRESSED:', 'compressed::', 'compressed']) {
      const error = await authErrorOf(() => auth.verify(prefix + packed.slice(11)))
      expect(error).toMatchObject({ code: 'token_invalid', status: 401 })
    }
  })
})
