import { describe, expect, it } from 'vitest'
import { readCookie } from '../../src/extract/cookie.js'
import { createAuth, InvalidRequestError } from '../../src/index.js'
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

describe('readCookie', () => {
  it.each([
    ['access_token=abc', 'abc'],
    ['theme=dark; access_token=abc', 'abc'],
    ['access_token=abc; theme=dark', 'abc'],
    ['theme=dark;access_token=abc', 'abc'],
    ['theme=dark;   access_token=abc  ; x=1', 'abc'],
    ['theme=dark; \taccess_token=abc', 'abc'],
    ['access_token="abc"', 'abc'],
    ['access_token=a=b', 'a=b'],
  ])('%j gives %j', (header, value) => {
    expect(readCookie(header, 'access_token')).toBe(value)
  })

  it.each([
    '',
    'theme=dark',
    'access_token=',
    'access_token=""',
    'x_access_token=abc',
    'access_token_x=abc',
    'access_token =abc',
    'access_token',
    'theme=access_token=abc',
  ])('%j has no access_token cookie', (header) => {
    expect(readCookie(header, 'access_token')).toBeUndefined()
  })

  it('refuses a cookie sent twice (400 invalid_request)', () => {
    expect(() => readCookie('access_token=a; access_token=b', 'access_token')).toThrow(
      InvalidRequestError,
    )
    expect(() => readCookie('access_token=a; access_token=a', 'access_token')).toThrow(
      /sent more than once/,
    )
  })
})

describe('the cookie option', () => {
  const keys = rsaKeyPair()
  const { clock } = fakeClock()
  const auth = createAuth({
    algorithms: ['RS256'],
    publicKey: keys.publicPem,
    issuer: ISSUER,
    audience: AUDIENCE,
    cookie: 'access_token',
    clock,
  })

  it('authenticates with the token in the cookie', async () => {
    const token = await signJwt(claims(), keys.privateKey)
    const ctx = await auth.authenticate({
      authorization: undefined,
      cookie: `theme=dark; access_token=${token}`,
    })
    expect(ctx?.sub).toBe('user-1')
  })

  it('joins several Cookie headers', async () => {
    const token = await signJwt(claims(), keys.privateKey)
    const ctx = await auth.authenticate({
      authorization: undefined,
      cookie: ['theme=dark', `access_token=${token}`],
    })
    expect(ctx?.sub).toBe('user-1')
  })

  it('refuses the token in both the header and the cookie (400)', async () => {
    const token = await signJwt(claims(), keys.privateKey)
    const error = await authErrorOf(() =>
      auth.authenticate({ authorization: `Bearer ${token}`, cookie: `access_token=${token}` }),
    )
    expect(summary(error)).toEqual({
      code: 'invalid_request',
      status: 400,
      'www-authenticate':
        'Bearer realm="api", error="invalid_request", error_description="Credentials were sent in more than one place."',
    })
  })

  it('refuses the cookie sent twice (400)', async () => {
    const token = await signJwt(claims(), keys.privateKey)
    const error = await authErrorOf(() =>
      auth.authenticate({
        authorization: undefined,
        cookie: [`access_token=${token}`, `access_token=${token}`],
      }),
    )
    expect(error).toMatchObject({ code: 'invalid_request', status: 400 })
  })

  it('puts a cookie value through the strict token checks', async () => {
    const error = await authErrorOf(() =>
      auth.authenticate({ authorization: undefined, cookie: 'access_token=not-a-jwt' }),
    )
    expect(error).toMatchObject({ code: 'token_invalid', status: 401 })
  })

  it('ignores the Cookie header when no cookie is configured', async () => {
    const plain = createAuth({
      algorithms: ['RS256'],
      publicKey: keys.publicPem,
      audience: AUDIENCE,
      clock,
    })
    const token = await signJwt(claims(), keys.privateKey)
    const error = await authErrorOf(() =>
      plain.authenticate({ authorization: undefined, cookie: `access_token=${token}` }),
    )
    expect(summary(error)).toEqual({
      code: 'credentials_missing',
      status: 401,
      'www-authenticate': 'Bearer realm="api"',
    })
  })

  it.each(['', 'a b', 'a;b', 'a=b', 'tök', 'a"b'])('refuses the cookie name %j', (cookie) => {
    expect(() =>
      createAuth({ algorithms: ['RS256'], publicKey: keys.publicPem, audience: AUDIENCE, cookie }),
    ).toThrow(TypeError)
  })
})
