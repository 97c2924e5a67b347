import { describe, expect, it } from 'vitest'
import { assertBearerToken, parseAuthorization } from '../../src/extract/authorization.js'
import { extractCredential as extractToken } from '../../src/extract/credentials.js'
import { createAuth, InvalidRequestError, requestInput } from '../../src/index.js'
import {
  AUDIENCE,
  authErrorOf,
  claims,
  fakeClock,
  ISSUER,
  rsaKeyPair,
  signJwt,
  summary,
} from '../helpers.js'

const SOURCES = { cookie: undefined, getToken: undefined, maxTokenBytes: 8192 }
const FROM_HEADER = { kind: 'bearer', token: 'abc', source: 'header' }

/**
 * The header grammar is enforced in two places: its structure (scheme, one token) when the header
 * is parsed, and the token's b64token alphabet when the token is not in the verification cache
 * (`isBearerToken`). Either way the request is a 400.
 */
function invalidRequest(value: string) {
  let error: unknown
  try {
    const parsed = parseAuthorization(value)
    expect(parsed?.kind).toBe('bearer')
    if (parsed?.kind === 'bearer') assertBearerToken(parsed.token)
  } catch (e) {
    error = e
  }
  expect(error).toBeInstanceOf(InvalidRequestError)
  expect(error).toMatchObject({ code: 'invalid_request', status: 400 })
}

describe('parseAuthorization', () => {
  it.each([
    ['Bearer abc.def.ghi', 'abc.def.ghi'],
    ['bearer abc.def.ghi', 'abc.def.ghi'],
    ['BEARER abc.def.ghi', 'abc.def.ghi'],
    ['bEaReR abc.def.ghi', 'abc.def.ghi'],
    ['Bearer     abc.def.ghi', 'abc.def.ghi'],
    // the whole RFC 6750 b64token alphabet, with trailing "=" padding
    ['Bearer AZaz09-._~+/==', 'AZaz09-._~+/=='],
    ['Bearer compressed:q1YqLU4t', 'compressed:q1YqLU4t'],
    ['Bearer  compressed:abc', 'compressed:abc'],
  ])('%j is a bearer token %j', (header, token) => {
    expect(parseAuthorization(header)).toEqual({ kind: 'bearer', token, source: 'header' })
  })

  it.each([
    ['two tokens', 'Bearer abc def'],
    ['a tab inside', 'Bearer abc\tdef'],
    ['a tab after the scheme', 'Bearer\tabc'],
    ['a tab after the spaces', 'Bearer \tabc'],
    ['no credentials', 'Bearer'],
    ['only a space', 'Bearer '],
    ['only spaces', 'Bearer    '],
    ['a trailing space', 'Bearer abc '],
    ['a comma', 'Bearer abc,def'],
    ['quotes', 'Bearer "abc"'],
    ['padding at the start', 'Bearer =abc'],
    ['padding in the middle', 'Bearer ab=c'],
    ['non-ASCII', 'Bearer abcé'],
    ['CR LF', 'Bearer abc\r\nX-Evil: 1'],
    ['a NUL', 'Bearer abc\u0000'],
    ['an auth-param', 'Bearer token="abc"'],
    ['an empty compressed token', 'Bearer compressed:'],
    ['a nested compressed prefix', 'Bearer compressed:compressed:abc'],
    ['a wrongly cased compressed prefix', 'Bearer Compressed:abc'],
  ])('%s is invalid_request (400)', (_name, header) => {
    invalidRequest(header)
  })

  it.each([
    'Digest username="a"',
    'Token abc',
    'Bearerabc',
    'Bearer-x abc',
    'Bear abc',
    'MAC id="a"',
    'Negotiate abc',
    '',
    'abc.def.ghi',
  ])('%j carries no bearer credentials', (header) => {
    expect(parseAuthorization(header)).toBeUndefined()
  })

  it('returns Basic credentials as basic, for the caller to ignore', () => {
    expect(parseAuthorization('Basic dXNlcjpwYXNz')).toEqual({
      kind: 'basic-header',
      token68: 'dXNlcjpwYXNz',
    })
    expect(parseAuthorization('basic   dXNlcjpwYXNz')).toEqual({
      kind: 'basic-header',
      token68: 'dXNlcjpwYXNz',
    })
    invalidRequest('Basic')
    invalidRequest('Basic a b')
  })
})

describe('extractToken', () => {
  it('reads one Authorization value, given as a string or a one-element list', () => {
    expect(extractToken({ authorization: 'Bearer abc' }, SOURCES)).toEqual(FROM_HEADER)
    expect(extractToken({ authorization: ['Bearer abc'] }, SOURCES)).toEqual(FROM_HEADER)
    expect(extractToken({ authorization: undefined }, SOURCES)).toBeUndefined()
    expect(extractToken({ authorization: '' }, SOURCES)).toBeUndefined()
    expect(extractToken({ authorization: 'Basic dXNlcjpwYXNz' }, SOURCES)).toBeUndefined()
  })

  it('refuses a repeated Authorization header', () => {
    expect(() => extractToken({ authorization: ['Bearer abc', 'Bearer abc'] }, SOURCES)).toThrow(
      InvalidRequestError,
    )
  })

  it('refuses credentials in two places (header and getter)', () => {
    const sources = { ...SOURCES, getToken: () => 'xyz' }
    expect(() => extractToken({ authorization: 'Bearer abc' }, sources)).toThrow(
      InvalidRequestError,
    )
    expect(extractToken({ authorization: undefined }, sources)).toEqual({
      kind: 'bearer',
      token: 'xyz',
      source: 'getter', // not from the header: its alphabet is left to the compact check
    })
  })

  it('tags each credential with its kind and where it came from', () => {
    const all = {
      ...SOURCES,
      cookie: 'access_token',
      basic: {},
      sessions: { cookieName: 'sid' },
    }
    expect(extractToken({ authorization: undefined, cookie: 'access_token=t1' }, all)).toEqual({
      kind: 'bearer',
      token: 't1',
      source: 'cookie',
    })
    expect(extractToken({ authorization: undefined, cookie: ['x=1', 'sid=s1'] }, all)).toEqual({
      kind: 'session',
      sessionId: 's1',
    })
    expect(extractToken({ authorization: 'Basic dXNlcjpwYXNz' }, all)).toEqual({
      kind: 'basic',
      credentials: { username: 'user', password: 'pass' },
    })
    expect(() =>
      extractToken({ authorization: 'Basic dXNlcjpwYXNz', cookie: 'sid=s1' }, all),
    ).toThrow(InvalidRequestError)
  })

  it('ignores a getter that finds nothing', () => {
    for (const empty of [undefined, null, '']) {
      const sources = { ...SOURCES, getToken: () => empty }
      expect(extractToken({ authorization: 'Bearer abc' }, sources)).toEqual(FROM_HEADER)
    }
  })
})

describe('requestInput', () => {
  it('sees repeated Authorization headers in rawHeaders, whatever their case', () => {
    const input = requestInput({
      headers: { authorization: 'Bearer a' },
      rawHeaders: ['Host', 'x', 'Authorization', 'Bearer a', 'AUTHORIZATION', 'Bearer b'],
    })
    expect(input.authorization).toEqual(['Bearer a', 'Bearer b'])
  })

  it('keeps a single header as a string', () => {
    const input = requestInput({
      headers: { authorization: 'Bearer a', cookie: 'c=1' },
      rawHeaders: ['authorization', 'Bearer a'],
    })
    expect(input).toEqual({ authorization: 'Bearer a', cookie: 'c=1', request: undefined })
  })
})

describe('authenticate: the Authorization header end to end', () => {
  const keys = rsaKeyPair()
  const { clock } = fakeClock()
  const auth = createAuth({
    algorithms: ['RS256'],
    publicKey: keys.publicPem,
    issuer: ISSUER,
    audience: AUDIENCE,
    clock,
  })

  it('accepts a case-insensitive scheme and several spaces', async () => {
    const token = await signJwt(claims(), keys.privateKey)
    for (const header of [`Bearer ${token}`, `bearer ${token}`, `BEARER   ${token}`]) {
      const ctx = await auth.authenticate({ authorization: header })
      expect(ctx?.sub).toBe('user-1')
    }
  })

  it.each([
    ['two tokens', (t: string) => `Bearer ${t} ${t}`],
    ['a tab', (t: string) => `Bearer\t${t}`],
    ['nothing after the scheme', () => 'Bearer '],
    ['a repeated header', (t: string) => [`Bearer ${t}`, `Bearer ${t}`]],
  ])('%s gives 400 invalid_request', async (_name, build) => {
    const token = await signJwt(claims(), keys.privateKey)
    const error = await authErrorOf(() => auth.authenticate({ authorization: build(token) }))
    expect(summary(error)).toMatchObject({
      code: 'invalid_request',
      status: 400,
    })
    expect(error.headers['www-authenticate']).toMatch(
      /^Bearer realm="api", error="invalid_request", error_description="[^"]+"$/,
    )
  })

  it('answers two tokens with the exact challenge', async () => {
    const error = await authErrorOf(() => auth.authenticate({ authorization: 'Bearer a b' }))
    expect(summary(error)).toEqual({
      code: 'invalid_request',
      status: 400,
      'www-authenticate':
        'Bearer realm="api", error="invalid_request", error_description="The Bearer credentials must be exactly one token."',
    })
  })

  it.each(['Basic dXNlcjpwYXNz', 'Digest username="a"', ''])(
    '%j is missing credentials (401, no error attribute)',
    async (header) => {
      const error = await authErrorOf(() => auth.authenticate({ authorization: header }))
      expect(summary(error)).toEqual({
        code: 'credentials_missing',
        status: 401,
        'www-authenticate': 'Bearer realm="api"',
      })
    },
  )
})
