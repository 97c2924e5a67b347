import { randomBytes } from 'node:crypto'
import { deflateRawSync } from 'node:zlib'
import { describe, expect, expectTypeOf, it } from 'vitest'
import { isScopeToken, toQuotedStringSafe } from '../src/http.js'
import {
  AuthError,
  type AuthErrorCode,
  type AuthFailure,
  AuthUnavailableError,
  bearerChallenge,
  CredentialsMissingError,
  createAuth,
  ERROR_TABLE,
  errorResponse,
  InsufficientUserAuthenticationError,
  InvalidRequestError,
  isAuthError,
  PermissionDeniedError,
  PROBLEM_CONTENT_TYPE,
  TokenExpiredError,
  TokenInvalidError,
  TokenNotYetValidError,
  TokenRevokedError,
  UserInactiveError,
} from '../src/index.js'
import {
  AUDIENCE,
  authErrorOf,
  b64u,
  claims,
  fakeClock,
  handSign,
  ISSUER,
  NOW_S,
  rsaKeyPair,
  signJwt,
  summary,
} from './helpers.js'

describe('ERROR_TABLE', () => {
  it('maps each code of the issue to its status and RFC 6750 error', () => {
    const table = Object.fromEntries(
      Object.entries(ERROR_TABLE).map(([code, spec]) => [code, [spec.status, spec.bearerError]]),
    )
    expect(table).toMatchObject({
      credentials_missing: [401, undefined],
      invalid_request: [400, 'invalid_request'],
      token_invalid: [401, 'invalid_token'],
      token_expired: [401, 'invalid_token'],
      token_not_yet_valid: [401, 'invalid_token'],
      token_revoked: [401, 'invalid_token'],
      user_inactive: [401, 'invalid_token'],
      permission_denied: [403, 'insufficient_scope'],
      insufficient_user_authentication: [401, 'insufficient_user_authentication'],
      auth_unavailable: [503, undefined],
    })
  })
})

describe('bearerChallenge', () => {
  it('has no error attribute for missing credentials', () => {
    expect(bearerChallenge({ realm: 'api' })).toBe('Bearer realm="api"')
    expect(bearerChallenge({ realm: 'api', description: 'ignored' })).toBe('Bearer realm="api"')
  })

  it('builds the 400 and 401 challenges', () => {
    expect(
      bearerChallenge({ realm: 'api', error: 'invalid_request', description: 'Two tokens.' }),
    ).toBe('Bearer realm="api", error="invalid_request", error_description="Two tokens."')
    expect(bearerChallenge({ realm: 'api', error: 'invalid_token' })).toBe(
      'Bearer realm="api", error="invalid_token"',
    )
  })

  it('builds the 403 challenge with the scope', () => {
    expect(
      bearerChallenge({
        realm: 'api',
        error: 'insufficient_scope',
        description: 'Denied.',
        scope: ['orders:read', 'orders:write'],
      }),
    ).toBe(
      'Bearer realm="api", error="insufficient_scope", error_description="Denied.", scope="orders:read orders:write"',
    )
  })

  it('drops scope tokens RFC 6750 does not allow, and an empty scope', () => {
    expect(
      bearerChallenge({
        realm: 'api',
        error: 'insufficient_scope',
        scope: ['ok', 'a b', 'q"uote', 'back\\slash', 'é', ''],
      }),
    ).toBe('Bearer realm="api", error="insufficient_scope", scope="ok"')
    expect(bearerChallenge({ realm: 'api', error: 'insufficient_scope', scope: [] })).toBe(
      'Bearer realm="api", error="insufficient_scope"',
    )
  })

  it("builds RFC 9470's challenges: acr_values, max_age, or both, after the description", () => {
    const error = 'insufficient_user_authentication'
    const head = `Bearer realm="api", error="${error}", error_description="Step up."`
    const description = 'Step up.'
    expect(bearerChallenge({ realm: 'api', error, description, acrValues: ['myACR'] })).toBe(
      `${head}, acr_values="myACR"`,
    )
    expect(bearerChallenge({ realm: 'api', error, description, maxAge: 5 })).toBe(
      `${head}, max_age="5"`,
    )
    expect(
      bearerChallenge({
        realm: 'api',
        error,
        description,
        acrValues: ['mfa', 'urn:x:hwk'],
        maxAge: 300,
      }),
    ).toBe(`${head}, acr_values="mfa urn:x:hwk", max_age="300"`)
  })

  it('drops acr values and max ages a quoted-string cannot carry as they are', () => {
    const error = 'insufficient_user_authentication'
    expect(
      bearerChallenge({
        realm: 'api',
        error,
        acrValues: ['ok', 'a b', 'q"uote', 'back\\slash', 'é', '', 'x\r\ny'],
        maxAge: 1.5,
      }),
    ).toBe(`Bearer realm="api", error="${error}", acr_values="ok"`)
    for (const maxAge of [-1, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 60]) {
      expect(bearerChallenge({ realm: 'api', error, acrValues: ['a b'], maxAge })).toBe(
        `Bearer realm="api", error="${error}"`,
      )
    }
  })

  it('cannot be broken out of by the description or the realm', () => {
    const header = bearerChallenge({
      realm: 'a"pi\\',
      error: 'invalid_token',
      description: 'bad "token"\\", error="none\r\nSet-Cookie: x=1\u00e9\u2028\t\u007f\u0000',
    })
    expect(header).toBe(
      'Bearer realm="api", error="invalid_token", error_description="bad token, error=noneSet-Cookie: x=1"',
    )
  })
})

describe('toQuotedStringSafe', () => {
  it('keeps exactly %x20-21 / %x23-5B / %x5D-7E', () => {
    let all = ''
    for (let c = 0; c < 0x300; c++) all += String.fromCharCode(c)
    const kept = toQuotedStringSafe(all)
    let expected = ''
    for (let c = 0x20; c <= 0x7e; c++)
      if (c !== 0x22 && c !== 0x5c) expected += String.fromCharCode(c)
    expect(kept).toBe(expected)
  })

  it.each([
    ['quotes', 'say "hi"', 'say hi'],
    ['backslashes', 'a\\b\\', 'ab'],
    ['non-ASCII', 'café ünïcode ☃ 𝒳', 'caf ncode  '],
    ['CR LF', 'line1\r\nline2', 'line1line2'],
    ['tab and NUL', 'a\tb\u0000c', 'abc'],
    ['plain text', 'The token has expired.', 'The token has expired.'],
  ])('strips %s', (_name, input, output) => {
    expect(toQuotedStringSafe(input)).toBe(output)
  })

  it('isScopeToken follows the same alphabet without space', () => {
    expect(isScopeToken('orders:read')).toBe(true)
    expect(isScopeToken('!#[]~')).toBe(true)
    for (const bad of ['', 'a b', 'a"b', 'a\\b', 'é', 'a\tb', '\u007f'])
      expect(isScopeToken(bad)).toBe(false)
  })
})

describe('AuthError', () => {
  const cases: [AuthError, AuthErrorCode, number, string | undefined][] = [
    [new CredentialsMissingError(), 'credentials_missing', 401, 'Bearer realm="api"'],
    [
      new InvalidRequestError('Two tokens.'),
      'invalid_request',
      400,
      'Bearer realm="api", error="invalid_request", error_description="Two tokens."',
    ],
    [
      new TokenInvalidError('The "exp" claim is missing.'),
      'token_invalid',
      401,
      'Bearer realm="api", error="invalid_token", error_description="The exp claim is missing."',
    ],
    [
      new TokenExpiredError(),
      'token_expired',
      401,
      'Bearer realm="api", error="invalid_token", error_description="The token has expired."',
    ],
    [
      new TokenNotYetValidError(),
      'token_not_yet_valid',
      401,
      'Bearer realm="api", error="invalid_token", error_description="The token is not valid yet."',
    ],
    [
      new TokenRevokedError(),
      'token_revoked',
      401,
      'Bearer realm="api", error="invalid_token", error_description="The token has been revoked."',
    ],
    [
      new UserInactiveError(),
      'user_inactive',
      401,
      'Bearer realm="api", error="invalid_token", error_description="The user is unknown or inactive."',
    ],
    [
      new PermissionDeniedError(undefined, { scope: ['orders:read', 'orders:write'] }),
      'permission_denied',
      403,
      'Bearer realm="api", error="insufficient_scope", error_description="The token does not grant the required permissions.", scope="orders:read orders:write"',
    ],
    [new AuthUnavailableError(), 'auth_unavailable', 503, undefined],
  ]

  it.each(cases)(
    '%s: code, status and exact WWW-Authenticate',
    (error, code, status, challenge) => {
      expect(error).toBeInstanceOf(AuthError)
      expect(error).toBeInstanceOf(Error)
      expect(isAuthError(error)).toBe(true)
      expect(error.name).toBe('AuthError')
      expect(error.code).toBe(code)
      expect(error.status).toBe(status)
      expect(error.statusCode).toBe(status)
      expect(error.expose).toBe(true)
      expect(error.title).toBe(ERROR_TABLE[code].title)
      expect(error.headers['www-authenticate']).toBe(challenge)
    },
  )

  it('has a problem body of exactly { type, title, status, detail, code }', () => {
    for (const [error, code, status] of cases) {
      const problem = error.toProblem()
      expect(Object.keys(problem).sort()).toEqual(['code', 'detail', 'status', 'title', 'type'])
      expect(problem).toEqual({
        type: `urn:authframework:error:${code}`,
        title: ERROR_TABLE[code].title,
        status,
        detail: error.message,
        code,
      })
      expect(JSON.parse(JSON.stringify(error))).toEqual(problem)
    }
  })

  it('answers 503 with Retry-After and no challenge', () => {
    expect(new AuthUnavailableError().headers).toEqual({ 'retry-after': '1' })
  })

  it('keeps the cause', () => {
    const cause = new Error('ECONNREFUSED')
    expect(new AuthUnavailableError(undefined, { cause }).cause).toBe(cause)
    expect(new TokenInvalidError('x').cause).toBeUndefined()
  })

  it('uses the realm', () => {
    expect(new CredentialsMissingError(undefined, { realm: 'orders' }).headers).toEqual({
      'www-authenticate': 'Bearer realm="orders"',
    })
  })

  it('narrows on code', () => {
    const failure = new TokenExpiredError() as AuthFailure
    if (failure.code === 'token_expired') expectTypeOf(failure).toEqualTypeOf<TokenExpiredError>()
    expectTypeOf<AuthFailure['code']>().toEqualTypeOf<AuthErrorCode>()
  })
})

describe('InsufficientUserAuthenticationError', () => {
  const CHALLENGE =
    'Bearer realm="bank", error="insufficient_user_authentication", error_description="Stronger or more recent authentication is required.", acr_values="mfa hwk", max_age="300"'

  it('is a 401 with the RFC 9470 challenge in its realm, never a Basic one', () => {
    const error = new InsufficientUserAuthenticationError(
      { acrValues: ['mfa', 'hwk'], maxAge: 300 },
      undefined,
      { realm: 'bank' },
    )
    error.basic = true
    expect(error).toBeInstanceOf(AuthError)
    expect(summary(error)).toEqual({
      code: 'insufficient_user_authentication',
      status: 401,
      'www-authenticate': CHALLENGE,
    })
    expect(error.title).toBe('Stronger or more recent authentication required')
  })

  it('carries acr_values and max_age in the problem body, as the challenge does', () => {
    const error = new InsufficientUserAuthenticationError(
      { acrValues: ['mfa', 'a b'], maxAge: 300 },
      'Step up.',
    )
    expect(error.acrValues).toEqual(['mfa'])
    expect(JSON.parse(errorResponse(error).body)).toEqual({
      type: 'urn:authframework:error:insufficient_user_authentication',
      title: 'Stronger or more recent authentication required',
      status: 401,
      detail: 'Step up.',
      code: 'insufficient_user_authentication',
      acr_values: 'mfa',
      max_age: 300,
    })
    const bare = new InsufficientUserAuthenticationError({ acrValues: ['a b'], maxAge: -1 })
    expect(Object.keys(bare.toProblem()).sort()).toEqual([
      'code',
      'detail',
      'status',
      'title',
      'type',
    ])
    expect(bare.maxAge).toBeUndefined()
  })
})

describe('errorResponse', () => {
  it('is status, headers and the problem body', () => {
    const error = new PermissionDeniedError(undefined, { scope: ['orders:read'] })
    const response = errorResponse(error)
    expect(response.status).toBe(403)
    expect(response.headers).toEqual({
      'www-authenticate':
        'Bearer realm="api", error="insufficient_scope", error_description="The token does not grant the required permissions.", scope="orders:read"',
      'content-type': PROBLEM_CONTENT_TYPE,
      'content-length': String(Buffer.byteLength(response.body)),
      'cache-control': 'no-store',
    })
    expect(JSON.parse(response.body)).toEqual({
      type: 'urn:authframework:error:permission_denied',
      title: 'Insufficient permissions',
      status: 403,
      detail: 'The token does not grant the required permissions.',
      code: 'permission_denied',
    })
    expect(PROBLEM_CONTENT_TYPE).toBe('application/problem+json')
  })

  it('sends Retry-After for 503', () => {
    const response = errorResponse(new AuthUnavailableError())
    expect(response.headers).toEqual({
      'retry-after': '1',
      'content-type': 'application/problem+json',
      'content-length': String(Buffer.byteLength(response.body)),
      'cache-control': 'no-store',
    })
  })
})

describe('createAuth errors', () => {
  const rsa = rsaKeyPair()
  const attacker = rsaKeyPair()
  const { clock } = fakeClock()
  const auth = createAuth({
    algorithms: ['RS256'],
    publicKey: rsa.publicPem,
    issuer: ISSUER,
    audience: AUDIENCE,
    realm: 'orders "v2"',
    clock,
  })

  it('carry the configured realm, sanitized', async () => {
    const missing = await authErrorOf(() => auth.authenticate({ authorization: undefined }))
    expect(missing.headers['www-authenticate']).toBe('Bearer realm="orders v2"')
    const bad = await authErrorOf(() => auth.verify('x.y.z'))
    expect(bad.headers['www-authenticate']).toMatch(
      /^Bearer realm="orders v2", error="invalid_token", /,
    )
    const denied = await authErrorOf(() =>
      auth.guard('orders:write')({ sub: 'u', claims: {}, permissions: [] }, {}),
    )
    expect(denied.headers['www-authenticate']).toBe(
      'Bearer realm="orders v2", error="insufficient_scope", error_description="The token does not grant the required permissions.", scope="orders:write"',
    )
  })

  it('turn an unexpected exception into token_invalid with the cause', () => {
    const cause = new RangeError('boom')
    const error = auth.toAuthError(cause)
    expect(error).toMatchObject({ code: 'token_invalid', status: 401, realm: 'orders "v2"' })
    expect(error.message).toBe('The token could not be verified.')
    expect(error.cause).toBe(cause)
    const own = new TokenExpiredError()
    expect(auth.toAuthError(own)).toBe(own)
  })

  it('never contain the token', async () => {
    const good = await signJwt(claims(), rsa.privateKey)
    const [h, p, s] = good.split('.') as [string, string, string]
    const tokens = [
      await signJwt(claims({ exp: NOW_S - 1 }), rsa.privateKey),
      await signJwt(claims({ nbf: NOW_S + 100 }), rsa.privateKey),
      await signJwt(claims({ iat: NOW_S + 100 }), rsa.privateKey),
      await signJwt(claims({ aud: 'billing-api' }), rsa.privateKey),
      await signJwt(claims({ iss: 'https://evil.example' }), rsa.privateKey),
      await signJwt(claims({ sub: '' }), rsa.privateKey),
      await signJwt(claims({ exp: undefined }), rsa.privateKey),
      await signJwt(claims({ perms: 'orders:read' }), rsa.privateKey),
      await signJwt(claims(), attacker.privateKey),
      await signJwt(claims(), rsa.privateKey, { alg: 'RS384' }),
      handSign({ alg: 'RS256', crit: ['exp'] }, claims(), 'RS256', rsa.privateKey),
      handSign({ alg: 'RS256', b64: false }, claims(), 'RS256', rsa.privateKey),
      handSign({ alg: 'RS256', kid: 7 }, claims(), 'RS256', rsa.privateKey),
      handSign({ alg: 'HS256' }, claims(), 'HS256', Buffer.from(rsa.publicPem)),
      handSign({ alg: 'RS256' }, '{"sub":', 'RS256', rsa.privateKey),
      `${b64u({ alg: 'none' })}.${p}.`,
      `${b64u({ alg: 'none' })}.${p}.${s}`,
      `${h}.${p}.${s}==`,
      `${h}.${p} .${s}`,
      `${h}.${p}`,
      `${good}.${s}`,
      `${h}.${b64u(claims({ sub: 'admin' }))}.${s}`,
      `${good}${'A'.repeat(9000)}`,
      `compressed:${deflateRawSync(good).toString('base64url')}AA`,
      `compressed:${deflateRawSync(`compressed:${good}`).toString('base64url')}`,
      `compressed:${randomBytes(64).toString('base64url')}`,
      `compressed:${good}`,
      'eyJhbGciOiJSUzI1NiJ9',
    ]
    for (const token of tokens) {
      const error = await authErrorOf(() => auth.verify(token))
      const exposed = [
        error.message,
        JSON.stringify(error.toProblem()),
        JSON.stringify(error.headers),
      ]
      for (const text of exposed) {
        expect(text).not.toContain(token)
        for (const part of token.split('.')) if (part.length >= 16) expect(text).not.toContain(part)
      }
    }
    for (const header of [`Bearer ${good} ${good}`, `Bearer ${good}\t`, `Bearer\t${good}`]) {
      const error = await authErrorOf(() => auth.authenticate({ authorization: header }))
      expect(error.code).toBe('invalid_request')
      expect(error.message).not.toContain(h)
      expect(JSON.stringify(error.toProblem())).not.toContain(s)
    }
    const twice = await authErrorOf(() =>
      auth.authenticate({ authorization: [`Bearer ${good}`, `Bearer ${good}`] }),
    )
    expect(JSON.stringify(twice.toProblem())).not.toContain(s)
  })

  it('never put a secret or a key into a configuration error', () => {
    const secret = 'correct-horse-battery'
    let message = ''
    try {
      createAuth({ algorithms: ['HS256'], secret, audience: AUDIENCE })
    } catch (error) {
      message = String((error as Error).message)
    }
    expect(message).toMatch(/secret must be at least 32 bytes for HS256/)
    expect(message).not.toContain(secret)
    const pem = `junk${rsa.publicPem}`
    try {
      createAuth({ algorithms: ['RS256'], publicKey: pem, audience: AUDIENCE })
    } catch (error) {
      message = String((error as Error).message)
    }
    expect(message).toMatch(/-----BEGIN/)
    expect(message).not.toContain(rsa.publicPem.split('\n')[1]!)
  })
})
