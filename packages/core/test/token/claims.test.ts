import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { type AuthOptions, createAuth } from '../../src/index.js'
import {
  AUDIENCE,
  authErrorOf,
  claims,
  handSign,
  INVALID_TOKEN_CHALLENGE,
  ISSUER,
  NOW_MS,
  NOW_S,
  signJwt,
  summary,
} from '../helpers.js'

const SECRET = randomBytes(32)

function makeAuth(extra: Partial<AuthOptions> = {}) {
  return createAuth({
    algorithms: ['HS256'],
    secret: SECRET,
    issuer: ISSUER,
    audience: AUDIENCE,
    cache: false,
    clock: () => NOW_MS,
    ...extra,
  })
}

function sign(payload: Record<string, unknown>, header: Record<string, unknown> = {}) {
  return signJwt(payload, SECRET, { alg: 'HS256', ...header })
}

async function rejects(
  auth: ReturnType<typeof makeAuth>,
  token: string,
  code: string,
  description: string,
) {
  const error = await authErrorOf(() => auth.verify(token))
  expect(summary(error)).toEqual({
    code,
    status: 401,
    'www-authenticate': INVALID_TOKEN_CHALLENGE(description),
  })
}

describe('exp', () => {
  const auth = makeAuth()

  it('is required by default', async () => {
    await rejects(
      auth,
      await sign(claims({ exp: undefined })),
      'token_invalid',
      'The exp claim is missing.',
    )
  })

  it('may be optional', async () => {
    const optional = makeAuth({ requireExp: false })
    const ctx = await optional.verify(await sign(claims({ exp: undefined })))
    expect(ctx.sub).toBe('user-1')
    expect(ctx.expiresAt).toBeUndefined()
  })

  it('is exposed as expiresAt', async () => {
    const ctx = await auth.verify(await sign(claims({ exp: NOW_S + 1 })))
    expect(ctx.expiresAt).toBe(NOW_S + 1)
  })

  it('expires exactly at exp', async () => {
    await rejects(
      auth,
      await sign(claims({ exp: NOW_S })),
      'token_expired',
      'The token has expired.',
    )
    await rejects(
      auth,
      await sign(claims({ exp: NOW_S - 1 })),
      'token_expired',
      'The token has expired.',
    )
  })

  it('expires at exp + clockToleranceSeconds', async () => {
    const tolerant = makeAuth({ clockToleranceSeconds: 30 })
    await expect(tolerant.verify(await sign(claims({ exp: NOW_S - 29 })))).resolves.toBeDefined()
    await rejects(
      tolerant,
      await sign(claims({ exp: NOW_S - 30 })),
      'token_expired',
      'The token has expired.',
    )
  })

  it('counts whole seconds of the clock', async () => {
    const late = makeAuth({ clock: () => NOW_MS + 999 })
    await expect(late.verify(await sign(claims({ exp: NOW_S + 1 })))).resolves.toBeDefined()
    const later = makeAuth({ clock: () => NOW_MS + 1000 })
    await rejects(
      later,
      await sign(claims({ exp: NOW_S + 1 })),
      'token_expired',
      'The token has expired.',
    )
  })

  it.each([
    ['a string', String(NOW_S + 60)],
    ['null', null],
    ['an array', [NOW_S + 60]],
  ])('must be a number, not %s', async (_name, exp) => {
    await rejects(
      auth,
      await sign(claims({ exp })),
      'token_invalid',
      'The exp claim must be a number.',
    )
  })
})

describe('nbf', () => {
  const auth = makeAuth()

  it('accepts nbf now or in the past', async () => {
    await expect(auth.verify(await sign(claims({ nbf: NOW_S })))).resolves.toBeDefined()
    await expect(auth.verify(await sign(claims({ nbf: NOW_S - 100 })))).resolves.toBeDefined()
  })

  it('rejects nbf in the future', async () => {
    await rejects(
      auth,
      await sign(claims({ nbf: NOW_S + 1 })),
      'token_not_yet_valid',
      'The token is not valid yet.',
    )
  })

  it('applies the tolerance', async () => {
    const tolerant = makeAuth({ clockToleranceSeconds: 5 })
    await expect(tolerant.verify(await sign(claims({ nbf: NOW_S + 5 })))).resolves.toBeDefined()
    await rejects(
      tolerant,
      await sign(claims({ nbf: NOW_S + 6 })),
      'token_not_yet_valid',
      'The token is not valid yet.',
    )
  })

  it('must be a number', async () => {
    await rejects(
      auth,
      await sign(claims({ nbf: 'soon' })),
      'token_invalid',
      'The nbf claim must be a number.',
    )
  })
})

describe('iat', () => {
  const auth = makeAuth()

  it('must not be in the future', async () => {
    await rejects(
      auth,
      await sign(claims({ iat: NOW_S + 1 })),
      'token_invalid',
      'The iat claim is in the future.',
    )
    const tolerant = makeAuth({ clockToleranceSeconds: 5 })
    await expect(tolerant.verify(await sign(claims({ iat: NOW_S + 5 })))).resolves.toBeDefined()
  })

  it('is optional without maxTokenAgeSeconds', async () => {
    await expect(auth.verify(await sign(claims({ iat: undefined })))).resolves.toBeDefined()
  })

  it('bounds the age with maxTokenAgeSeconds', async () => {
    const young = makeAuth({ maxTokenAgeSeconds: 60 })
    await expect(young.verify(await sign(claims({ iat: NOW_S - 59 })))).resolves.toBeDefined()
    await rejects(
      young,
      await sign(claims({ iat: NOW_S - 60 })),
      'token_expired',
      'The token is older than allowed.',
    )
    await rejects(
      young,
      await sign(claims({ iat: NOW_S - 3600 })),
      'token_expired',
      'The token is older than allowed.',
    )
    await rejects(
      young,
      await sign(claims({ iat: undefined })),
      'token_invalid',
      'The iat claim is missing.',
    )
  })

  it('adds the tolerance to maxTokenAgeSeconds', async () => {
    const young = makeAuth({ maxTokenAgeSeconds: 60, clockToleranceSeconds: 10 })
    await expect(young.verify(await sign(claims({ iat: NOW_S - 69 })))).resolves.toBeDefined()
    await rejects(
      young,
      await sign(claims({ iat: NOW_S - 70 })),
      'token_expired',
      'The token is older than allowed.',
    )
  })
})

describe('iss and aud', () => {
  it('matches one issuer or one of several', async () => {
    const one = makeAuth()
    const several = makeAuth({ issuer: ['https://other.example', ISSUER] })
    const token = await sign(claims())
    await expect(one.verify(token)).resolves.toBeDefined()
    await expect(several.verify(token)).resolves.toBeDefined()
    for (const iss of [
      'https://evil.example',
      `${ISSUER}/`,
      ISSUER.toUpperCase(),
      undefined,
      [ISSUER],
      1,
    ]) {
      await rejects(
        one,
        await sign(claims({ iss })),
        'token_invalid',
        'The iss claim does not match.',
      )
    }
  })

  it('accepts any issuer when none is configured', async () => {
    const open = makeAuth({ issuer: undefined })
    await expect(
      open.verify(await sign(claims({ iss: 'https://x.example' }))),
    ).resolves.toBeDefined()
  })

  it('matches a string audience', async () => {
    const auth = makeAuth()
    await expect(auth.verify(await sign(claims({ aud: AUDIENCE })))).resolves.toBeDefined()
    for (const aud of ['billing-api', 'ORDERS-API', undefined, '', 1, { aud: AUDIENCE }]) {
      await rejects(
        auth,
        await sign(claims({ aud })),
        'token_invalid',
        'The aud claim does not match.',
      )
    }
  })

  it('matches a token with several audiences when one is accepted', async () => {
    const auth = makeAuth()
    await expect(
      auth.verify(await sign(claims({ aud: ['billing-api', AUDIENCE] }))),
    ).resolves.toBeDefined()
    await rejects(
      auth,
      await sign(claims({ aud: ['billing-api', 'search-api'] })),
      'token_invalid',
      'The aud claim does not match.',
    )
    await rejects(
      auth,
      await sign(claims({ aud: [] })),
      'token_invalid',
      'The aud claim does not match.',
    )
    // non-string members are ignored, never coerced
    await rejects(
      auth,
      await sign(claims({ aud: [[AUDIENCE], { 0: AUDIENCE }] })),
      'token_invalid',
      'The aud claim does not match.',
    )
  })

  it('matches against a list of accepted audiences', async () => {
    const auth = makeAuth({ audience: ['billing-api', AUDIENCE] })
    await expect(auth.verify(await sign(claims({ aud: 'billing-api' })))).resolves.toBeDefined()
    await expect(auth.verify(await sign(claims({ aud: ['x', AUDIENCE] })))).resolves.toBeDefined()
    await rejects(
      auth,
      await sign(claims({ aud: ['x', 'y'] })),
      'token_invalid',
      'The aud claim does not match.',
    )
  })
})

describe('requiredClaims', () => {
  it('requires each named claim', async () => {
    const auth = makeAuth({ requiredClaims: ['tenant', 'jti'] })
    await expect(auth.verify(await sign(claims({ tenant: 't1', jti: 'j' })))).resolves.toBeDefined()
    await rejects(
      auth,
      await sign(claims({ tenant: 't1' })),
      'token_invalid',
      'The jti claim is missing.',
    )
    // a falsy value is present
    await expect(auth.verify(await sign(claims({ tenant: 0, jti: '' })))).resolves.toBeDefined()
  })

  it('does not find required claims on Object.prototype', async () => {
    for (const name of ['toString', 'constructor', 'hasOwnProperty', '__proto__']) {
      const auth = makeAuth({ requiredClaims: [name] })
      await rejects(auth, await sign(claims()), 'token_invalid', `The ${name} claim is missing.`)
    }
  })
})

describe('typ', () => {
  it('compares like jose: case-insensitive, application/ optional', async () => {
    const auth = makeAuth({ typ: 'at+jwt' })
    for (const typ of ['at+jwt', 'AT+JWT', 'application/at+jwt', 'Application/At+JWT']) {
      await expect(auth.verify(await sign(claims(), { typ }))).resolves.toBeDefined()
    }
    const prefixed = makeAuth({ typ: 'application/at+jwt' })
    await expect(prefixed.verify(await sign(claims(), { typ: 'at+jwt' }))).resolves.toBeDefined()
  })

  it('rejects another or a missing typ', async () => {
    const auth = makeAuth({ typ: 'at+jwt' })
    for (const header of [{ typ: 'JWT' }, { typ: 'at+jwt ' }, { typ: 'application/jwt' }, {}]) {
      await rejects(
        auth,
        await sign(claims(), header),
        'token_invalid',
        'The typ header does not match.',
      )
    }
    const numeric = handSign({ alg: 'HS256', typ: 1 }, claims(), 'HS256', SECRET)
    await rejects(auth, numeric, 'token_invalid', 'The typ header does not match.')
  })

  it('is not checked unless configured', async () => {
    const auth = makeAuth()
    await expect(auth.verify(await sign(claims(), { typ: 'anything' }))).resolves.toBeDefined()
  })
})

describe('sub', () => {
  const auth = makeAuth()

  it.each([
    ['missing', undefined],
    ['empty', ''],
    ['a number', 42],
    ['null', null],
    ['an array', ['user-1']],
    ['an object', { id: 'user-1' }],
  ])('is rejected when %s', async (_name, sub) => {
    await rejects(
      auth,
      await sign(claims({ sub })),
      'token_invalid',
      'The sub claim is missing or not a string.',
    )
  })
})

describe('the claims object', () => {
  const auth = makeAuth()

  it('is deeply frozen, and assignment throws in strict mode', async () => {
    const ctx = await auth.verify(
      await sign(claims({ perms: ['orders:read'], profile: { name: 'A', tags: ['x'] } })),
    )
    const profile = ctx.claims.profile as { name: string; tags: string[] }
    expect(Object.isFrozen(ctx)).toBe(true)
    expect(Object.isFrozen(ctx.claims)).toBe(true)
    expect(Object.isFrozen(profile)).toBe(true)
    expect(Object.isFrozen(profile.tags)).toBe(true)
    expect(Object.isFrozen(ctx.permissions)).toBe(true)
    expect(() => {
      ;(ctx as { sub: string }).sub = 'admin'
    }).toThrow(TypeError)
    expect(() => {
      ;(ctx.claims as Record<string, unknown>).sub = 'admin'
    }).toThrow(TypeError)
    expect(() => {
      profile.name = 'B'
    }).toThrow(TypeError)
    expect(() => profile.tags.push('y')).toThrow(TypeError)
    expect(() => (ctx.permissions as string[]).push('*')).toThrow(TypeError)
    expect(ctx.sub).toBe('user-1')
    expect(ctx.permissions).toEqual(['orders:read'])
  })

  it('keeps a __proto__ member as a plain own property and pollutes nothing', async () => {
    const payload = JSON.stringify(claims()).replace(
      /}$/,
      ',"__proto__":{"polluted":"yes","perms":["*"],"sub":"admin"},"constructor":{"prototype":{"polluted":"yes"}}}',
    )
    const token = handSign({ alg: 'HS256' }, payload, 'HS256', SECRET)
    const ctx = await auth.verify(token)
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    expect((Object.prototype as Record<string, unknown>).polluted).toBeUndefined()
    expect(Object.getPrototypeOf(ctx.claims)).toBe(Object.prototype)
    expect(Object.hasOwn(ctx.claims, '__proto__')).toBe(true)
    expect(Object.getOwnPropertyDescriptor(ctx.claims, '__proto__')?.value).toEqual({
      polluted: 'yes',
      perms: ['*'],
      sub: 'admin',
    })
    expect((ctx.claims as Record<string, unknown>).polluted).toBeUndefined()
    expect(ctx.sub).toBe('user-1')
    expect(ctx.permissions).toEqual([])
    expect(Object.isFrozen(Object.getOwnPropertyDescriptor(ctx.claims, '__proto__')?.value)).toBe(
      true,
    )
  })

  it('rejects a payload that is not a JSON object', async () => {
    for (const payload of ['[]', '"sub"', 'null', '42', '{"sub":', '\u00ff']) {
      const token = handSign({ alg: 'HS256' }, payload, 'HS256', SECRET)
      const error = await authErrorOf(() => auth.verify(token))
      expect(error).toMatchObject({ code: 'token_invalid', status: 401 })
    }
  })
})
