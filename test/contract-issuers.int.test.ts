/**
 * Several issuers in one middleware (`issuers`), through every adapter: a listed set and a tenant
 * resolver. Each issuer's tokens are accepted; a token is never verified with another issuer's
 * keys or algorithms (iss spoofing, algorithm confusion, a `kid` of another set); an unknown
 * issuer is a 401 without any resolver call past the first or any key fetch; a resolver that
 * fails is a 503. Every case asserts the status, the `code` and the exact `WWW-Authenticate`.
 */
import { generateKeyPairSync } from 'node:crypto'
import type { IssuerOptions } from '@authframework/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ADAPTERS, type AdapterName, type RunningApp, startApp } from './support/apps.js'
import { AUDIENCE, NOW, publicPem, token } from './support/tokens.js'

const A = 'https://tenant-a.example'
const B = 'https://tenant-b.example'
const H = 'https://tenant-h.example'
const DOWN = 'https://tenant-down.example'
const UNKNOWN = 'https://unknown.example'

const rsaB = generateKeyPairSync('rsa', { modulusLength: 2048 })
const SECRET = 'a-tenant-secret-of-at-least-32-bytes!'
const JWKS_B = JSON.stringify({
  keys: [{ ...rsaB.publicKey.export({ format: 'jwk' }), kid: 'b1', alg: 'RS256', use: 'sig' }],
})

/** Network and resolver calls, counted per app. */
interface Calls {
  jwks: number
  resolver: string[]
}

function tenants(calls: Calls): IssuerOptions[] {
  return [
    { issuer: A, publicKey: publicPem, algorithms: ['RS256'] },
    {
      issuer: B,
      jwksUri: 'https://tenant-b.example/jwks',
      algorithms: ['RS256'],
      jwks: {
        fetch: async () => {
          calls.jwks++
          return new Response(JWKS_B, { headers: { 'content-type': 'application/json' } })
        },
      },
    },
    { issuer: H, secret: SECRET, algorithms: ['HS256'] },
  ]
}

const VARIANTS = {
  list: (calls: Calls) => ({ issuers: tenants(calls) }),
  resolver: (calls: Calls) => {
    const known = new Map(tenants(calls).map((t) => [t.issuer, t]))
    return {
      issuers: async (iss: string) => {
        calls.resolver.push(iss)
        if (iss === DOWN) throw new Error('connect ECONNREFUSED 127.0.0.1:5432')
        return known.get(iss)
      },
    }
  },
}

const REALM = 'Bearer realm="api"'
const invalidToken = (description: string) =>
  `${REALM}, error="invalid_token", error_description="${description}"`
const bearer = (value: string): [string, string][] => [['Authorization', `Bearer ${value}`]]

const tokenA = token({ claims: { iss: A, sub: 'alice' } })
const tokenB = token({
  claims: { iss: B, sub: 'bob' },
  header: { kid: 'b1' },
  key: rsaB.privateKey,
})
const tokenH = token({ claims: { iss: H, sub: 'hal' }, hmacSecret: SECRET })

interface Case {
  readonly name: string
  readonly token: string
  readonly status: number
  readonly code?: string
  readonly www?: string | null
  readonly iss?: string
}

const CASES: Case[] = [
  { name: "tenant A's token (its PEM)", token: tokenA, status: 200, iss: A },
  { name: "tenant B's token (its JWKS)", token: tokenB, status: 200, iss: B },
  { name: "tenant H's token (its HMAC secret)", token: tokenH, status: 200, iss: H },
  {
    name: "iss names A, signed with B's key and kid: refused",
    token: token({ claims: { iss: A }, header: { kid: 'b1' }, key: rsaB.privateKey }),
    status: 401,
    code: 'token_invalid',
    www: invalidToken('The token signature is invalid.'),
  },
  {
    name: "iss names B, signed with A's key: refused",
    token: token({ claims: { iss: B }, header: { kid: 'b1' } }),
    status: 401,
    code: 'token_invalid',
    www: invalidToken('The token signature is invalid.'),
  },
  {
    name: "iss names H, signed with A's RSA key: refused (H accepts HS256 only)",
    token: token({ claims: { iss: H } }),
    status: 401,
    code: 'token_invalid',
    www: invalidToken('The token algorithm is not allowed.'),
  },
  {
    name: "iss names A, HS256 with A's public key as the secret: refused (algorithm confusion)",
    token: token({ claims: { iss: A }, hmacSecret: publicPem }),
    status: 401,
    code: 'token_invalid',
    www: invalidToken('The token algorithm is not allowed.'),
  },
  {
    name: "iss names A, HS256 with H's secret: refused",
    token: token({ claims: { iss: A }, hmacSecret: SECRET }),
    status: 401,
    code: 'token_invalid',
    www: invalidToken('The token algorithm is not allowed.'),
  },
  {
    name: 'an unknown issuer: 401',
    token: token({ claims: { iss: UNKNOWN } }),
    status: 401,
    code: 'token_invalid',
    www: invalidToken('The token issuer is not accepted.'),
  },
  {
    name: "an issuer differing by a trailing slash from A's: 401",
    token: token({ claims: { iss: `${A}/` } }),
    status: 401,
    code: 'token_invalid',
    www: invalidToken('The token issuer is not accepted.'),
  },
  {
    name: 'no iss: 401',
    token: token({ claims: { iss: undefined } }),
    status: 401,
    code: 'token_invalid',
    www: invalidToken('The token has no usable iss claim.'),
  },
]

describe.each(ADAPTERS)('several issuers through %s', (adapter: AdapterName) => {
  const apps = new Map<keyof typeof VARIANTS, { app: RunningApp; calls: Calls }>()
  beforeAll(async () => {
    for (const [variant, options] of Object.entries(VARIANTS)) {
      const calls: Calls = { jwks: 0, resolver: [] }
      const app = await startApp(adapter, {
        ...options(calls),
        audience: AUDIENCE,
        clock: () => NOW * 1000,
      })
      apps.set(variant as keyof typeof VARIANTS, { app, calls })
    }
  })
  afterAll(async () => {
    for (const { app } of apps.values()) await app.close()
  })

  describe.each(Object.keys(VARIANTS))('%s', (variant) => {
    it.each(CASES)('$name', async (c) => {
      const { app } = apps.get(variant as keyof typeof VARIANTS)!
      const res = await app.request('/me', bearer(c.token))
      expect(res.status, res.text).toBe(c.status)
      if (c.status === 200) {
        expect(res.body).toMatchObject({ auth: { claims: { iss: c.iss } } })
        return
      }
      expect(res.headers['www-authenticate'] ?? null).toBe(c.www)
      expect(res.headers['content-type']).toBe('application/problem+json')
      expect(res.body).toMatchObject({ status: c.status, code: c.code })
    })

    it('an unknown issuer costs no key fetch, and the resolver at most once', async () => {
      const { app, calls } = apps.get(variant as keyof typeof VARIANTS)!
      const jwks = calls.jwks
      const other = 'https://another-unknown.example'
      for (let i = 0; i < 5; i++) {
        const res = await app.request('/me', bearer(token({ claims: { iss: other, jti: `${i}` } })))
        expect(res.status).toBe(401)
        expect(res.headers['www-authenticate']).toBe(
          invalidToken('The token issuer is not accepted.'),
        )
      }
      expect(calls.jwks).toBe(jwks)
      expect(calls.resolver.filter((iss) => iss === other)).toHaveLength(
        variant === 'resolver' ? 1 : 0,
      )
    })
  })

  it('a tenant resolver that fails: 503 auth_unavailable with Retry-After, never 401 or 200', async () => {
    const { app, calls } = apps.get('resolver')!
    const res = await app.request('/me', bearer(token({ claims: { iss: DOWN } })))
    expect(res.status, res.text).toBe(503)
    expect(res.headers['retry-after']).toBe('1')
    expect(res.headers['www-authenticate']).toBeUndefined()
    expect(res.body).toMatchObject({ status: 503, code: 'auth_unavailable' })
    expect(calls.resolver).toContain(DOWN)
  })

  it('one JWKS fetch for tenant B whatever else happens', async () => {
    for (const { app, calls } of apps.values()) {
      expect((await app.request('/me', bearer(tokenB))).status).toBe(200)
      expect(calls.jwks).toBe(1)
    }
  })
})
