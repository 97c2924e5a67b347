/**
 * Step-up authentication (RFC 9470) through every adapter: `requireAuthentication` (NestJS:
 * `@RequireAuthentication`) on the contract routes `/step-up/acr`, `/step-up/recent` and
 * `/step-up/payments` (step-up and a permission). Each case asserts the status, the problem
 * `code` and the exact `WWW-Authenticate` header. The apps run on a fixed clock (`NOW`).
 */
import { requireAuthentication as expressStepUp } from '@authframework/express'
import { authPlugin } from '@authframework/fastify'
import { requireAuthentication as honoStepUp } from '@authframework/hono'
import { requireAuthentication as koaStepUp } from '@authframework/koa'
import { RequireAuthentication } from '@authframework/nestjs'
import Fastify from 'fastify'
import { describe, expect, it } from 'vitest'
import {
  ADAPTERS,
  type AdapterName,
  appsPerVariant,
  baseOptions,
  problemBody,
} from './support/apps.js'
import { NOW, token } from './support/tokens.js'

/** What each step-up route asks for: in the challenge, and as members of the problem body. */
const ACR = {
  params: ', acr_values="urn:example:mfa hwk"',
  members: { acr_values: 'urn:example:mfa hwk' },
}
const AGE = { params: ', max_age="300"', members: { max_age: 300 } }
const BOTH = {
  params: ', acr_values="mfa", max_age="300"',
  members: { acr_values: 'mfa', max_age: 300 },
}
type Asked = typeof ACR | typeof AGE | typeof BOTH
const WEAK = 'A different authentication level is required.'
const OLD = 'More recent authentication is required.'
const CHALLENGE = (description: string, asked: Asked) =>
  `Bearer realm="api", error="insufficient_user_authentication", error_description="${description}"${asked.params}`

const bearer = (claims: Record<string, unknown>): [string, string][] => [
  ['Authorization', `Bearer ${token({ claims })}`],
]

/** Option sets the cases run under; each adapter starts one app per set. */
const VARIANTS = {
  default: { clockToleranceSeconds: 5 },
  basic: {
    basic: {
      verify: async ({ username }: { username: string }) =>
        username === 'alice' ? { sub: 'alice', permissions: ['payments:write'] } : null,
    },
  },
  propagate: { errors: 'propagate' },
} as const

interface Case {
  name: string
  variant?: keyof typeof VARIANTS
  path: string
  headers?: [string, string][]
  status: number
  code?: string
  www?: string
  /** The RFC 9470 members of the problem body. */
  extensions?: Record<string, unknown>
}

const denied = (
  name: string,
  path: string,
  claims: Record<string, unknown>,
  description: string,
  asked: Asked,
): Case => ({
  name,
  path,
  headers: bearer(claims),
  status: 401,
  code: 'insufficient_user_authentication',
  www: CHALLENGE(description, asked),
  extensions: asked.members,
})

const CASES: Case[] = [
  // acr: one of acrValues, a string
  { name: 'acr accepted', path: '/step-up/acr', headers: bearer({ acr: 'hwk' }), status: 200 },
  {
    name: 'acr accepted (the first value, a URN)',
    path: '/step-up/acr',
    headers: bearer({ acr: 'urn:example:mfa' }),
    status: 200,
  },
  denied('acr of a weaker level', '/step-up/acr', { acr: 'pwd' }, WEAK, ACR),
  denied('acr missing', '/step-up/acr', {}, WEAK, ACR),
  denied('acr not a string', '/step-up/acr', { acr: ['hwk'] }, WEAK, ACR),
  denied('acr differing in case', '/step-up/acr', { acr: 'HWK' }, WEAK, ACR),
  {
    name: 'anonymous on a step-up route',
    path: '/step-up/acr',
    status: 401,
    code: 'credentials_missing',
    www: 'Bearer realm="api"',
  },
  // auth_time: at most max age old, not in the future beyond the tolerance (5 s)
  {
    name: 'auth_time exactly max age old',
    path: '/step-up/recent',
    headers: bearer({ auth_time: NOW - 300 }),
    status: 200,
  },
  {
    name: 'auth_time in the future within the tolerance',
    path: '/step-up/recent',
    headers: bearer({ auth_time: NOW + 5 }),
    status: 200,
  },
  denied('auth_time too old', '/step-up/recent', { auth_time: NOW - 301 }, OLD, AGE),
  denied(
    'auth_time in the future beyond the tolerance',
    '/step-up/recent',
    { auth_time: NOW + 6 },
    OLD,
    AGE,
  ),
  denied('auth_time missing', '/step-up/recent', {}, OLD, AGE),
  denied('auth_time a string', '/step-up/recent', { auth_time: String(NOW) }, OLD, AGE),
  // step-up and a permission on one route: the step-up challenge comes first
  {
    name: 'step-up and permission both met',
    path: '/step-up/payments',
    headers: bearer({ acr: 'mfa', auth_time: NOW - 10, perms: ['payments:write'] }),
    status: 200,
  },
  {
    name: 'step-up met, permission missing: 403',
    path: '/step-up/payments',
    headers: bearer({ acr: 'mfa', auth_time: NOW - 10 }),
    status: 403,
    code: 'permission_denied',
    www: 'Bearer realm="api", error="insufficient_scope", error_description="The token does not grant the required permissions.", scope="payments:write"',
  },
  denied(
    'both failing: the step-up challenge wins',
    '/step-up/payments',
    { acr: 'pwd', auth_time: NOW - 10 },
    WEAK,
    BOTH,
  ),
  denied(
    'acr met, authentication too old, permission granted',
    '/step-up/payments',
    { acr: 'mfa', auth_time: NOW - 400, perms: ['payments:write'] },
    OLD,
    BOTH,
  ),
  {
    name: 'an invalid token is refused before any step-up',
    path: '/step-up/acr',
    headers: [['Authorization', `Bearer ${token({ claims: { acr: 'hwk', exp: NOW - 10 } })}`]],
    status: 401,
    code: 'token_expired',
    www: 'Bearer realm="api", error="invalid_token", error_description="The token has expired."',
  },
  // Basic credentials carry no acr or auth_time: a step-up route challenges them for a token
  {
    name: 'Basic credentials on a step-up route',
    variant: 'basic',
    path: '/step-up/payments',
    headers: [['Authorization', `Basic ${Buffer.from('alice:x').toString('base64')}`]],
    status: 401,
    code: 'insufficient_user_authentication',
    www: CHALLENGE(WEAK, BOTH),
    extensions: BOTH.members,
  },
]

describe.each(ADAPTERS)('step-up contract: %s', (adapter: AdapterName) => {
  const apps = appsPerVariant(adapter, VARIANTS)

  it.each(CASES)('$name', async (c) => {
    const res = await apps.get(c.variant ?? 'default')!.request(c.path, c.headers)
    expect(res.status, res.text).toBe(c.status)
    expect(res.headers['www-authenticate']).toBe(c.www)
    if (c.code === undefined) {
      expect(res.body).toMatchObject({ auth: { sub: 'user-1' } })
      return
    }
    expect(res.headers['content-type']).toBe('application/problem+json')
    expect(res.body).toEqual(problemBody(c.code, c.status, c.extensions))
  })

  it("errors: 'propagate' hands the framework an AuthError whose headers carry the challenge", async () => {
    const res = await apps.get('propagate')!.request('/step-up/payments', bearer({ acr: 'pwd' }))
    expect(res.status, res.text).toBe(401)
    if (adapter.startsWith('nestjs')) {
      // Nest's own answer to an exception is the problem without headers; the application's
      // filter sends the AuthException's `answer` (packages/nestjs/test/module.test.ts)
      expect(res.body).toMatchObject({ code: 'insufficient_user_authentication', ...BOTH.members })
    } else {
      // the framework's default error handler sends the error's `status` and `headers`
      expect(res.headers['www-authenticate']).toBe(CHALLENGE(WEAK, BOTH))
    }
  })
})

describe('requireAuthentication options', () => {
  it('are checked where the route is defined, with the same TypeError in every adapter', async () => {
    const fastify = Fastify()
    await fastify.register(authPlugin, baseOptions() as never)
    const define = [
      expressStepUp,
      koaStepUp,
      honoStepUp,
      RequireAuthentication,
      (options: object) => fastify.requireAuthentication(options),
    ]
    const message = 'requireAuthentication: maxAgeSeconds must be a positive integer, e.g. 300.'
    for (const guard of define) {
      expect(() => guard({ maxAgeSeconds: -1 })).toThrow(new TypeError(message))
      expect(() => guard({ acrValues: ['a "b"'] })).toThrow(TypeError)
      expect(guard({ acrValues: ['mfa'], maxAgeSeconds: 60 })).toBeTypeOf('function')
    }
    await fastify.close()
  })
})
