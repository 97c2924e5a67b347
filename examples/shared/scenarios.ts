/** The behaviour every example app shows; each example's test runs this same table. */
import type { Demo } from './demo.js'

export interface Scenario {
  readonly name: string
  readonly method: 'GET' | 'POST'
  readonly path: string
  readonly token?: string
  readonly status: number
}

export function scenarios(demo: Demo): Scenario[] {
  const reader = demo.signer.sign({ sub: 'user-42', perms: ['orders:read'] })
  const admin = demo.signer.sign({ sub: 'admin-1', perms: ['*'] })
  const many = Array.from({ length: 60 }, (_, i) => `orders:region-${i}:read`)
  const compressed = demo.signer.sign({ sub: 'user-42', perms: ['orders:read', ...many] })
  if (!compressed.startsWith('compressed:')) throw new Error('expected a compressed token')
  return [
    { name: 'public health check', method: 'GET', path: '/health', status: 200 },
    { name: 'public JWK Set', method: 'GET', path: '/.well-known/jwks.json', status: 200 },
    { name: 'no token', method: 'GET', path: '/orders', status: 401 },
    { name: 'reader reads orders', method: 'GET', path: '/orders', token: reader, status: 200 },
    { name: 'reader cannot write', method: 'POST', path: '/orders', token: reader, status: 403 },
    { name: 'admin writes (wildcard)', method: 'POST', path: '/orders', token: admin, status: 201 },
    {
      name: 'owner reads own orders',
      method: 'GET',
      path: '/users/user-42/orders',
      token: reader,
      status: 200,
    },
    {
      name: 'not the owner',
      method: 'GET',
      path: '/users/user-7/orders',
      token: reader,
      status: 403,
    },
    {
      name: 'admin reads any user',
      method: 'GET',
      path: '/users/user-7/orders',
      token: admin,
      status: 200,
    },
    { name: 'compressed token', method: 'GET', path: '/orders', token: compressed, status: 200 },
    { name: 'garbage token', method: 'GET', path: '/orders', token: 'not-a-token', status: 401 },
  ]
}

/** Runs one scenario against a listening app. */
export async function run(
  baseUrl: string,
  s: Scenario,
): Promise<{ status: number; body: unknown; www: string | null }> {
  const res = await fetch(baseUrl + s.path, {
    method: s.method,
    headers: s.token ? { authorization: `Bearer ${s.token}` } : {},
  })
  const text = await res.text()
  return {
    status: res.status,
    body: text ? JSON.parse(text) : undefined,
    www: res.headers.get('www-authenticate'),
  }
}

/** Stands for the `access_token` of the flow's last successful `POST /login`. */
export const ISSUED = Symbol('issued token')

/** One request of a login flow and what must come back. */
export interface Step {
  readonly method: 'GET' | 'POST'
  readonly path: string
  /** Sent as JSON. */
  readonly body?: unknown
  readonly token?: string | typeof ISSUED
  readonly expect: {
    readonly status: number
    /** The problem body's `code`. */
    readonly code?: string
    /** A `Retry-After` of whole seconds is required. */
    readonly retryAfter?: boolean
    /** The body is `{ access_token, token_type: 'Bearer', expires_in }`. */
    readonly tokenResponse?: boolean
  }
}

/** Requests that depend on each other: log in, use the token, log out, be refused. */
export interface Flow {
  readonly name: string
  readonly steps: readonly Step[]
}

/**
 * `POST /login` and `POST /logout` through an example. Every failure comes from 127.0.0.1, within
 * the per-address limit (50); the rate-limit flow uses a username of its own.
 */
export function loginFlows(demo: Pick<Demo, 'user'>): Flow[] {
  const good = { username: demo.user.username, password: demo.user.password }
  const wrong = { status: 401, code: 'credentials_invalid' }
  return [
    {
      name: 'login with the right password, then use the token',
      steps: [
        {
          method: 'POST',
          path: '/login',
          body: good,
          expect: { status: 200, tokenResponse: true },
        },
        { method: 'GET', path: '/me', token: ISSUED, expect: { status: 200 } },
        { method: 'GET', path: '/orders', token: ISSUED, expect: { status: 200 } },
        { method: 'POST', path: '/orders', token: ISSUED, expect: { status: 403 } },
      ],
    },
    {
      name: 'login with a wrong password',
      steps: [
        { method: 'POST', path: '/login', body: { ...good, password: 'wrong' }, expect: wrong },
      ],
    },
    {
      name: 'login as an unknown user (same answer as a wrong password)',
      steps: [
        {
          method: 'POST',
          path: '/login',
          body: { username: 'nobody', password: 'x' },
          expect: wrong,
        },
      ],
    },
    {
      name: 'login with a malformed body',
      steps: [
        {
          method: 'POST',
          path: '/login',
          body: { username: 'demo' },
          expect: { status: 400, code: 'invalid_request' },
        },
      ],
    },
    {
      name: 'five failures for one username, then 429 with Retry-After',
      steps: [
        ...Array.from({ length: 5 }, () => ({
          method: 'POST' as const,
          path: '/login',
          body: { username: 'rate-limited', password: 'guess' },
          expect: wrong,
        })),
        {
          method: 'POST',
          path: '/login',
          body: { username: 'rate-limited', password: 'guess' },
          expect: { status: 429, code: 'too_many_attempts', retryAfter: true },
        },
      ],
    },
    {
      name: 'logout revokes the token: 401 token_revoked afterwards',
      steps: [
        {
          method: 'POST',
          path: '/login',
          body: good,
          expect: { status: 200, tokenResponse: true },
        },
        { method: 'POST', path: '/logout', token: ISSUED, expect: { status: 204 } },
        {
          method: 'GET',
          path: '/me',
          token: ISSUED,
          expect: { status: 401, code: 'token_revoked' },
        },
        { method: 'POST', path: '/logout', expect: { status: 401, code: 'credentials_missing' } },
      ],
    },
  ]
}

/** Runs a flow against a listening app; answers the mismatches (empty when all steps passed). */
export async function runFlow(baseUrl: string, flow: Flow): Promise<string[]> {
  const problems: string[] = []
  let issued: string | undefined
  for (const [i, step] of flow.steps.entries()) {
    const token = step.token === ISSUED ? issued : step.token
    const headers: Record<string, string> = {}
    if (token !== undefined) headers.authorization = `Bearer ${token}`
    if (step.body !== undefined) headers['content-type'] = 'application/json'
    const res = await fetch(baseUrl + step.path, {
      method: step.method,
      headers,
      body: step.body === undefined ? undefined : JSON.stringify(step.body),
    })
    const text = await res.text()
    const body = text ? (JSON.parse(text) as Record<string, unknown>) : {}
    const where = `step ${i + 1} (${step.method} ${step.path})`
    if (res.status !== step.expect.status) {
      problems.push(`${where}: status ${res.status}, expected ${step.expect.status}: ${text}`)
    }
    if (step.expect.code !== undefined && body.code !== step.expect.code) {
      problems.push(`${where}: code ${String(body.code)}, expected ${step.expect.code}`)
    }
    if (step.expect.retryAfter && !/^[1-9]\d*$/.test(res.headers.get('retry-after') ?? '')) {
      problems.push(`${where}: no Retry-After in seconds`)
    }
    if (
      res.status === 401 &&
      !/^Bearer realm="api"/.test(res.headers.get('www-authenticate') ?? '')
    ) {
      problems.push(`${where}: 401 without a Bearer challenge`)
    }
    if (step.expect.tokenResponse) {
      const ok =
        typeof body.access_token === 'string' &&
        body.token_type === 'Bearer' &&
        typeof body.expires_in === 'number' &&
        res.headers.get('cache-control') === 'no-store'
      if (!ok) problems.push(`${where}: not a token response: ${text}`)
      else issued = body.access_token as string
    }
  }
  return problems
}
