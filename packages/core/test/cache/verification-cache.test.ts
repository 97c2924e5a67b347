import { describe, expect, it, vi } from 'vitest'
import {
  cacheKey,
  createVerificationCache,
  VerifiedContext,
} from '../../src/cache/verification-cache.js'
import { type AuthContext, type AuthOptions, createAuth } from '../../src/index.js'
import { subjectKeys } from '../../src/revocation/keys.js'
import {
  AUDIENCE,
  authErrorOf,
  b64u,
  claims,
  fakeClock,
  ISSUER,
  NOW_MS,
  NOW_S,
  rsaKeyPair,
  signJwt,
} from '../helpers.js'

// Count the signature checks of node:crypto that the core makes (RS256 goes through `verify`).
const calls = vi.hoisted(() => ({ verify: 0 }))
vi.mock('node:crypto', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:crypto')>()
  const verify = ((...args: unknown[]) => {
    calls.verify++
    return (actual.verify as (...a: unknown[]) => unknown)(...args)
  }) as typeof actual.verify
  return { ...actual, default: { ...actual, verify }, verify }
})

const rsa = rsaKeyPair()
const attacker = rsaKeyPair()

function setup(extra: Partial<AuthOptions> = {}) {
  const time = fakeClock()
  const auth = createAuth({
    algorithms: ['RS256'],
    publicKey: rsa.publicPem,
    issuer: ISSUER,
    audience: AUDIENCE,
    cache: { max: 100, maxTtlSeconds: 60 },
    clock: time.clock,
    ...extra,
  } as AuthOptions)
  return { auth, time }
}

/** Runs `fn` and returns how many signatures it checked. */
async function checked(fn: () => Promise<unknown>): Promise<number> {
  const before = calls.verify
  await fn()
  return calls.verify - before
}

describe('cache hits', () => {
  it('verify the signature once and return the very same frozen object', async () => {
    const { auth } = setup()
    const token = await signJwt(claims(), rsa.privateKey)
    let first: AuthContext | undefined
    let second: AuthContext | undefined
    expect(
      await checked(async () => {
        first = await auth.verify(token)
      }),
    ).toBe(1)
    expect(
      await checked(async () => {
        second = await auth.verify(token)
      }),
    ).toBe(0)
    expect(second).toBe(first)
    expect(Object.isFrozen(second)).toBe(true)
    // authenticate shares the cache with verify
    expect(await auth.authenticate({ authorization: `Bearer ${token}` })).toBe(first)
  })

  it('are keyed by the exact token string', async () => {
    const { auth } = setup()
    const a = await signJwt(claims(), rsa.privateKey)
    const b = await signJwt(claims({ jti: 'other' }), rsa.privateKey)
    const ctxA = await auth.verify(a)
    expect(await checked(() => auth.verify(b))).toBe(1)
    expect(await auth.verify(b)).not.toBe(ctxA)
  })

  it('can be dropped with clearCache()', async () => {
    const { auth } = setup()
    const token = await signJwt(claims(), rsa.privateKey)
    const first = await auth.verify(token)
    auth.clearCache()
    expect(await checked(() => auth.verify(token))).toBe(1)
    expect(await auth.verify(token)).not.toBe(first)
  })
})

describe('validity kept in whole seconds', () => {
  // `now` is whole seconds in the claim checks, so a cached entry's bounds, kept as whole seconds
  // (⌈exp + tolerance⌉, ⌈nbf − tolerance⌉), must refuse at exactly the instant the checks would.
  it.each([false, true])(
    'a fractional exp ends at the same millisecond (cache: %s)',
    async (cached) => {
      const { auth, time } = setup(cached ? {} : { cache: false })
      const token = await signJwt(claims({ exp: NOW_S + 10.5 }), rsa.privateKey)
      await auth.verify(token)
      time.set(NOW_MS + 10_999)
      expect((await auth.verify(token)).sub).toBe('user-1')
      time.set(NOW_MS + 11_000)
      expect((await authErrorOf(() => auth.verify(token))).code).toBe('token_expired')
    },
  )

  it('a cached token is refused before its nbf when the clock goes back', async () => {
    // tolerance 0: the checks accept nbf = NOW_S − 0.5 from NOW_MS (whole second NOW_S) on
    const { auth, time } = setup()
    const token = await signJwt(claims({ nbf: NOW_S - 0.5 }), rsa.privateKey)
    await auth.verify(token) // cached
    time.set(NOW_MS - 1)
    expect((await authErrorOf(() => auth.verify(token))).code).toBe('token_not_yet_valid')
    time.set(NOW_MS)
    expect(await checked(() => auth.verify(token))).toBe(0) // the cached entry, valid again
  })
})

describe('only successful verifications are cached', () => {
  it('a bad signature is checked again every time', async () => {
    const { auth } = setup()
    const forged = await signJwt(claims(), attacker.privateKey)
    for (let i = 0; i < 3; i++) {
      expect(
        await checked(async () => {
          const error = await authErrorOf(() => auth.verify(forged))
          expect(error.code).toBe('token_invalid')
        }),
      ).toBe(1)
    }
  })

  it('a well-signed but expired or mis-addressed token is checked again every time', async () => {
    const { auth } = setup()
    for (const payload of [claims({ exp: NOW_S - 1 }), claims({ aud: 'billing-api' })]) {
      const token = await signJwt(payload, rsa.privateKey)
      for (let i = 0; i < 2; i++) {
        expect(await checked(() => authErrorOf(() => auth.verify(token)))).toBe(1)
      }
    }
  })
})

describe('TTL = min(maxTtlSeconds, exp - now)', () => {
  it('lives maxTtlSeconds when exp is further away', async () => {
    const { auth, time } = setup()
    const token = await signJwt(claims({ exp: NOW_S + 600 }), rsa.privateKey)
    const first = await auth.verify(token)
    time.set(NOW_MS + 59_999)
    expect(await checked(() => auth.verify(token))).toBe(0)
    time.set(NOW_MS + 60_000)
    let again: AuthContext | undefined
    expect(
      await checked(async () => {
        again = await auth.verify(token)
      }),
    ).toBe(1)
    expect(again).not.toBe(first)
    expect(again).toEqual(first)
  })

  it('re-checks exp on a hit: past exp inside maxTtl is token_expired, not a cached success', async () => {
    const { auth, time } = setup()
    const token = await signJwt(claims({ exp: NOW_S + 30 }), rsa.privateKey)
    await auth.verify(token)
    time.set(NOW_MS + 29_999)
    expect(await checked(() => auth.verify(token))).toBe(0)
    time.set(NOW_MS + 30_000)
    const error = await authErrorOf(() => auth.verify(token))
    expect(error).toMatchObject({ code: 'token_expired', status: 401 })
    // and it stays expired
    time.set(NOW_MS + 31_000)
    expect((await authErrorOf(() => auth.verify(token))).code).toBe('token_expired')
  })

  it('honours the clock tolerance on a hit like on a miss', async () => {
    const { auth, time } = setup({ clockToleranceSeconds: 10 })
    const token = await signJwt(claims({ exp: NOW_S + 30 }), rsa.privateKey)
    await auth.verify(token)
    time.set(NOW_MS + 39_999)
    expect(await checked(() => auth.verify(token))).toBe(0)
    time.set(NOW_MS + 40_000)
    expect((await authErrorOf(() => auth.verify(token))).code).toBe('token_expired')
  })

  it('re-checks maxTokenAgeSeconds on a hit', async () => {
    const { auth, time } = setup({ maxTokenAgeSeconds: 60 })
    const token = await signJwt(claims({ iat: NOW_S - 10, exp: NOW_S + 600 }), rsa.privateKey)
    await auth.verify(token)
    time.set(NOW_MS + 49_999)
    expect(await checked(() => auth.verify(token))).toBe(0)
    time.set(NOW_MS + 50_000)
    expect((await authErrorOf(() => auth.verify(token))).code).toBe('token_expired')
  })

  it('re-checks nbf on a hit (a clock that goes back)', async () => {
    const { auth, time } = setup()
    const token = await signJwt(claims({ nbf: NOW_S - 10 }), rsa.privateKey)
    const first = await auth.verify(token)
    time.set(NOW_MS - 11_000)
    const error = await authErrorOf(() => auth.verify(token))
    expect(error).toMatchObject({ code: 'token_not_yet_valid', status: 401 })
    time.set(NOW_MS)
    expect(await auth.verify(token)).toBe(first)
  })

  it('gives a token without exp maxTtlSeconds', async () => {
    const { auth, time } = setup({ requireExp: false })
    const token = await signJwt(claims({ exp: undefined }), rsa.privateKey)
    const first = await auth.verify(token)
    time.set(NOW_MS + 59_000)
    expect(await auth.verify(token)).toBe(first)
    time.set(NOW_MS + 60_000)
    expect(await checked(() => auth.verify(token))).toBe(1)
  })
})

describe('a flood of forged tokens', () => {
  it('neither inserts nor evicts: the valid entry of a 10-entry cache is still a hit', async () => {
    const { auth } = setup({ cache: { max: 10, maxTtlSeconds: 300 } })
    const valid = await signJwt(claims(), rsa.privateKey)
    const context = await auth.verify(valid)
    const good = valid.split('.')
    const signature = Buffer.from(good[2]!, 'base64url')
    let rejected = 0
    const flood = await checked(async () => {
      for (let i = 0; i < 1000; i++) {
        // valid-looking: the real header, a fresh payload, a signature of the right length
        signature.writeUInt32BE(i, 0)
        const forged = `${good[0]}.${b64u(claims({ jti: `f${i}` }))}.${signature.toString('base64url')}`
        const error = await authErrorOf(() => auth.verify(forged))
        if (error.code === 'token_invalid') rejected++
      }
    })
    expect(rejected).toBe(1000)
    expect(flood).toBe(1000)
    expect(await checked(() => auth.verify(valid))).toBe(0)
    expect(await auth.verify(valid)).toBe(context)
  })

  it('(control) ten other valid tokens in use do evict it, so the probe above can fail', async () => {
    const { auth } = setup({ cache: { max: 10, maxTtlSeconds: 300 } })
    const valid = await signJwt(claims(), rsa.privateKey)
    const context = await auth.verify(valid)
    for (let i = 0; i < 10; i++) {
      const other = await signJwt(claims({ jti: `v${i}` }), rsa.privateKey)
      // seen twice: a full cache admits a token on its second sighting
      await auth.verify(other)
      await auth.verify(other)
    }
    expect(await checked(() => auth.verify(valid))).toBe(1)
    expect(await auth.verify(valid)).not.toBe(context)
  })
})

describe('admission when the cache is full', () => {
  it('caches a token on its first verification while there is room', async () => {
    const { auth } = setup({ cache: { max: 3, maxTtlSeconds: 300 } })
    for (let i = 0; i < 3; i++) {
      const token = await signJwt(claims({ jti: `r${i}` }), rsa.privateKey)
      expect(await checked(() => auth.verify(token))).toBe(1)
      expect(await checked(() => auth.verify(token))).toBe(0)
    }
  })

  it('does not let valid tokens used once push out the tokens in use', async () => {
    const { auth } = setup({ cache: { max: 10, maxTtlSeconds: 300 } })
    const inUse: string[] = []
    for (let i = 0; i < 10; i++) {
      inUse.push(await signJwt(claims({ jti: `u${i}` }), rsa.privateKey))
      await auth.verify(inUse[i]!)
    }
    // a batch job or a client that fetches a new token per call: 200 valid one-time tokens
    const once = await Promise.all(
      Array.from({ length: 200 }, (_, i) => signJwt(claims({ jti: `o${i}` }), rsa.privateKey)),
    )
    expect(await checked(async () => Promise.all(once.map((t) => auth.verify(t))))).toBe(200)
    expect(await checked(async () => Promise.all(inUse.map((t) => auth.verify(t))))).toBe(0)
  })

  it('admits a token seen a second time, evicting the least recently used', async () => {
    const { auth } = setup({ cache: { max: 2, maxTtlSeconds: 300 } })
    const [a, b, c] = await Promise.all(
      ['a', 'b', 'c'].map((jti) => signJwt(claims({ jti }), rsa.privateKey)),
    )
    await auth.verify(a!)
    await auth.verify(b!)
    await auth.verify(a!) // b is now the least recently used
    expect(await checked(() => auth.verify(c!))).toBe(1) // noted, not cached
    expect(await checked(() => auth.verify(c!))).toBe(1) // admitted
    expect(await checked(() => auth.verify(c!))).toBe(0)
    expect(await checked(() => auth.verify(a!))).toBe(0)
    expect(await checked(() => auth.verify(b!))).toBe(1)
  })

  it('forgets its sightings on clearCache()', async () => {
    const { auth } = setup({ cache: { max: 1, maxTtlSeconds: 300 } })
    const [a, b] = await Promise.all(
      ['a', 'b'].map((jti) => signJwt(claims({ jti }), rsa.privateKey)),
    )
    await auth.verify(a!)
    await auth.verify(b!) // noted
    auth.clearCache()
    await auth.verify(a!) // room again: cached
    await auth.verify(b!) // a first sighting again, not the second
    expect(await checked(() => auth.verify(a!))).toBe(0)
    expect(await checked(() => auth.verify(b!))).toBe(1)
  })
})

describe('the cached context', () => {
  it('cannot be mutated, so the next hit is unaffected', async () => {
    const { auth } = setup()
    const token = await signJwt(
      claims({ perms: ['orders:read'], meta: { tier: 'free' } }),
      rsa.privateKey,
    )
    const ctx = await auth.verify(token)
    const attempts = [
      () => {
        ;(ctx as { sub: string }).sub = 'admin'
      },
      () => (ctx.permissions as string[]).push('*'),
      () => {
        ;(ctx.claims as Record<string, unknown>).perms = ['*']
      },
      () => {
        ;(ctx.claims.meta as Record<string, unknown>).tier = 'gold'
      },
      () => {
        delete (ctx.claims as Record<string, unknown>).exp
      },
      () => Object.defineProperty(ctx, 'roles', { value: ['admin'] }),
    ]
    for (const attempt of attempts) expect(attempt).toThrow(TypeError)
    const next = await auth.verify(token)
    expect(next).toBe(ctx)
    expect(next.sub).toBe('user-1')
    expect(next.permissions).toEqual(['orders:read'])
    expect(next.claims.meta).toEqual({ tier: 'free' })
    expect(next.claims.exp).toBe(claims().exp)
    expect(next.roles).toBeUndefined()
  })
})

describe('instances', () => {
  it('each createAuth has its own cache, so options never mix', async () => {
    const time = fakeClock()
    const base = {
      algorithms: ['RS256'],
      publicKey: rsa.publicPem,
      issuer: ISSUER,
      clock: time.clock,
    } as const
    const orders = createAuth({ ...base, algorithms: ['RS256'], audience: AUDIENCE })
    const billing = createAuth({ ...base, algorithms: ['RS256'], audience: 'billing-api' })
    const token = await signJwt(claims({ aud: AUDIENCE }), rsa.privateKey)
    await orders.verify(token)
    const error = await authErrorOf(() => billing.verify(token))
    expect(error.message).toBe('The "aud" claim does not match.')
    const twin = createAuth({ ...base, algorithms: ['RS256'], audience: AUDIENCE })
    expect(await checked(() => twin.verify(token))).toBe(1)
  })

  it('cache: false verifies every time', async () => {
    const { auth } = setup({ cache: false })
    const token = await signJwt(claims(), rsa.privateKey)
    const first = await auth.verify(token)
    expect(await checked(() => auth.verify(token))).toBe(1)
    expect(await auth.verify(token)).not.toBe(first)
    expect(await auth.verify(token)).toEqual(first)
  })
})

describe('createVerificationCache', () => {
  const entry = (validUntil: number, validFrom = 0) =>
    new VerifiedContext('u', Object.freeze({}), Object.freeze([]), undefined, {
      validUntil,
      validFrom,
    })

  it('keys by SHA-256 of the token, never the token itself', () => {
    const token = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1In0.AAAA'
    const key = cacheKey(token)
    expect(key).toHaveLength(43) // base64url, unpadded
    expect(key).not.toContain(token)
    expect(key).not.toContain('eyJ')
    expect(cacheKey(token)).toBe(key)
    expect(cacheKey(`${token}A`)).not.toBe(key)
  })

  it('caps validity at maxTtlSeconds and drops stale entries', () => {
    let now = 1_000_000
    const cache = createVerificationCache({ max: 5, maxTtlSeconds: 10, clock: () => now })
    expect(cache.limit(now)).toBe(1_010) // whole seconds
    const a = entry(cache.limit(now))
    const b = entry(1_005)
    cache.set('a', a)
    cache.set('b', b)
    cache.set('too-long', entry(1_011)) // beyond maxTtl from now: not cached
    expect(cache.size).toBe(2)
    now += 4_999
    expect(cache.get('a')).toBe(a)
    expect(cache.get('b')).toBe(b)
    now += 1
    expect(cache.get('b')).toBeUndefined()
    expect(cache.size).toBe(1)
    now += 5_000
    expect(cache.get('a')).toBeUndefined()
    expect(cache.size).toBe(0)
  })

  it('hides an entry before validFrom without dropping it', () => {
    let now = 1_000_000
    const cache = createVerificationCache({ max: 5, maxTtlSeconds: 10, clock: () => now })
    const a = entry(1_005, 1_000)
    cache.set('a', a)
    now -= 1
    expect(cache.get('a')).toBeUndefined()
    expect(cache.size).toBe(1)
    now += 1
    expect(cache.get('a')).toBe(a)
  })

  it('keeps at most max entries, least recently used first out', () => {
    const cache = createVerificationCache({ max: 2, maxTtlSeconds: 10, clock: () => 0 })
    const e = entry(5)
    cache.set('a', e)
    cache.set('b', e)
    cache.get('a')
    cache.set('c', e)
    expect(cache.get('c')).toBeUndefined() // full: a first sighting is not admitted
    cache.set('c', e)
    expect(cache.get('a')).toBeDefined()
    expect(cache.get('b')).toBeUndefined()
    expect(cache.get('c')).toBeDefined()
  })
})

describe('VerifiedContext', () => {
  it('shows callers the context only: frozen, plain to JSON, spread and keys', () => {
    const claims = Object.freeze({ sub: 'u', jti: 'j', iat: 7 })
    const context = new VerifiedContext('u', claims, Object.freeze(['a']), 9, {
      validUntil: 9,
      validFrom: 0,
    })
    expect(Object.isFrozen(context)).toBe(true)
    expect(Object.keys(context)).toEqual(['sub', 'claims', 'permissions', 'expiresAt'])
    expect(JSON.parse(JSON.stringify(context))).toEqual({
      sub: 'u',
      claims,
      permissions: ['a'],
      expiresAt: 9,
    })
    expect({ ...context }).toStrictEqual({ sub: 'u', claims, permissions: ['a'], expiresAt: 9 })
    expect(VerifiedContext.subject(context, 'token', () => 'h')).toMatchObject({
      tokenHash: 'h',
      jti: 'j',
      sub: 'u',
      iat: 7,
    })
  })

  it('gives the subject of every request for one cached token the same revocation keys, derived once', () => {
    const claims = Object.freeze({ sub: 'u', jti: 'j' })
    const validity = { validUntil: 9, validFrom: 0 }
    const context = new VerifiedContext('u', claims, Object.freeze([]), 9, validity)
    const first = subjectKeys(VerifiedContext.subject(context, 't', () => 'h'))
    expect(subjectKeys(VerifiedContext.subject(context, 't', () => 'h'))).toBe(first)
    expect(first).toEqual({ token: 'h', jti: `jti:${cacheKey('j')}`, sub: `sub:${cacheKey('u')}` })
    const other = new VerifiedContext('u', claims, Object.freeze([]), 9, validity)
    expect(subjectKeys(VerifiedContext.subject(other, 't2', () => 'h2')).token).toBe('h2')
  })

  it("derives the token hash from the request's token only when revocation asks for it, once", () => {
    const token = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1In0.AAAA'
    const claims = Object.freeze({ sub: 'u', jti: 5, iat: 'x' })
    const context = new VerifiedContext('u', claims, Object.freeze([]), undefined, {
      validUntil: 0,
      validFrom: 0,
    })
    const hashed: string[] = []
    const hash = (t: string) => {
      hashed.push(t)
      return cacheKey(t)
    }
    const subject = VerifiedContext.subject(context, token, hash)
    expect(subject.jti).toBeUndefined() // not a string
    expect(subject.iat).toBeUndefined() // not a number
    expect(subject.sub).toBe('u')
    expect(hashed).toEqual([]) // nothing asked for the hash yet
    expect(subject.tokenHash).toBe(cacheKey(token))
    expect(VerifiedContext.subject(context, token, hash).tokenHash).toBe(cacheKey(token))
    expect(VerifiedContext.tokenHash(context, token, hash)).toBe(cacheKey(token))
    expect(hashed).toEqual([token]) // kept after the first time
  })
})
