/** The behaviour every example app shows; each example's test runs this same table. */
import { type IncomingHttpHeaders, request } from 'node:http'
import { deflateRawSync } from 'node:zlib'
import { createSigner } from '@authframework/core'
import { AUDIENCE, type Demo, ISSUER, PROMETHEUS_CONTENT_TYPE } from './demo.js'

export interface Scenario {
  readonly name: string
  readonly method: 'GET' | 'POST'
  readonly path: string
  readonly token?: string
  readonly status: number
  /** The body contains this text. */
  readonly contains?: string
  /** The body does not contain this text. */
  readonly lacks?: string
  /** The exact `content-type`. */
  readonly contentType?: string
}

export function scenarios(demo: Demo): Scenario[] {
  const reader = demo.signer.sign({ sub: 'user-42', perms: ['orders:read'] })
  // explicit grants: a token's wildcards grant nothing unless `tokenWildcards` is set
  const admin = demo.signer.sign({
    sub: 'admin-1',
    perms: ['admin', 'orders:read', 'orders:write'],
  })
  const many = Array.from({ length: 60 }, (_, i) => `orders:region-${i}:read`)
  // a long token stays a standard JWT; its `compressed:` form (createSigner's opt-in
  // compressAboveBytes) is read by the app too
  const long = demo.signer.sign({ sub: 'user-42', perms: ['orders:read', ...many] })
  if (long.startsWith('compressed:')) throw new Error('expected a standard JWT')
  const compressed = `compressed:${deflateRawSync(long).toString('base64url')}`
  // Well formed, right issuer and audience, but signed by a key the app does not trust.
  const forged = createSigner({ algorithm: 'ES256', issuer: ISSUER, audience: AUDIENCE }).sign({
    sub: 'user-42',
    perms: ['orders:read'],
  })
  return [
    { name: 'public health check', method: 'GET', path: '/health', status: 200 },
    { name: 'public JWK Set', method: 'GET', path: '/.well-known/jwks.json', status: 200 },
    { name: 'no token', method: 'GET', path: '/orders', status: 401 },
    { name: 'reader reads orders', method: 'GET', path: '/orders', token: reader, status: 200 },
    { name: 'reader cannot write', method: 'POST', path: '/orders', token: reader, status: 403 },
    { name: 'admin writes', method: 'POST', path: '/orders', token: admin, status: 201 },
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
    { name: 'long token', method: 'GET', path: '/orders', token: long, status: 200 },
    { name: 'compressed token', method: 'GET', path: '/orders', token: compressed, status: 200 },
    { name: 'garbage token', method: 'GET', path: '/orders', token: 'not-a-token', status: 401 },
    {
      name: 'optional route, anonymous: the public catalog',
      method: 'GET',
      path: '/catalog',
      status: 200,
      contains: '"items":[',
      lacks: '"for"',
    },
    {
      name: 'optional route, valid token: personalised',
      method: 'GET',
      path: '/catalog',
      token: reader,
      status: 200,
      contains: '"for":"user-42"',
    },
    {
      name: 'optional route, token of an untrusted key',
      method: 'GET',
      path: '/catalog',
      token: forged,
      status: 401,
    },
    {
      name: 'optional route, garbage token',
      method: 'GET',
      path: '/catalog',
      token: 'not-a-token',
      status: 401,
    },
    {
      name: 'Prometheus metrics, public',
      method: 'GET',
      path: '/metrics',
      status: 200,
      contentType: PROMETHEUS_CONTENT_TYPE,
      contains: 'authframework_authentications_total',
    },
  ]
}

/** What came back for one scenario. */
export interface ScenarioResult {
  readonly status: number
  readonly text: string
  /** Parsed when the answer is JSON. */
  readonly body: unknown
  readonly contentType: string | null
  readonly www: string | null
}

/** Runs one scenario against a listening app. */
export async function run(baseUrl: string, s: Scenario): Promise<ScenarioResult> {
  const res = await fetch(baseUrl + s.path, {
    method: s.method,
    headers: s.token ? { authorization: `Bearer ${s.token}` } : {},
  })
  const text = await res.text()
  const contentType = res.headers.get('content-type')
  return {
    status: res.status,
    text,
    body: text && /json/.test(contentType ?? '') ? JSON.parse(text) : undefined,
    contentType,
    www: res.headers.get('www-authenticate'),
  }
}

/** How a result differs from its scenario (empty when it matches), challenges included. */
export function mismatches(res: ScenarioResult, s: Scenario): string[] {
  const problems: string[] = []
  if (res.status !== s.status)
    problems.push(`status ${res.status}, expected ${s.status}: ${res.text}`)
  if (res.status === 401 && !/^Bearer realm="api"/.test(res.www ?? '')) {
    problems.push(`401 without a Bearer challenge: ${res.www}`)
  }
  if (res.status === 403 && !(res.www ?? '').includes('error="insufficient_scope"')) {
    problems.push(`403 without error="insufficient_scope": ${res.www}`)
  }
  if (s.contains !== undefined && !res.text.includes(s.contains)) {
    problems.push(`body lacks ${s.contains}: ${res.text.slice(0, 200)}`)
  }
  if (s.lacks !== undefined && res.text.includes(s.lacks)) {
    problems.push(`body contains ${s.lacks}: ${res.text.slice(0, 200)}`)
  }
  if (s.contentType !== undefined && res.contentType !== s.contentType) {
    problems.push(`content-type ${res.contentType}, expected ${s.contentType}`)
  }
  return problems
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
    const challenge = res.headers.get('www-authenticate')
    if (step.path === '/login') {
      // a login takes no bearer token: no Bearer challenge (with or without error=) on its errors
      if (challenge !== null) problems.push(`${where}: a challenge on a login answer: ${challenge}`)
    } else if (res.status === 401 && !/^Bearer realm="api"/.test(challenge ?? '')) {
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

/** A `POST /login` sent byte for byte, and the problem that must come back. */
export interface BadLogin {
  readonly name: string
  readonly headers: Readonly<Record<string, string>>
  /** A string or bytes with a `Content-Length`; an array is sent chunked. */
  readonly body: string | Buffer | readonly Buffer[]
  readonly status: 400 | 401 | 413
  readonly code: string
}

const JSON_TYPE = { 'content-type': 'application/json' }

/**
 * What an attacker sends to `POST /login` that is not a login: every one is answered with
 * `application/problem+json`, its own status and code, no challenge and no stack trace.
 */
export function badLogins(): BadLogin[] {
  const invalid = { status: 400, code: 'invalid_request' } as const
  const tooLarge = { status: 413, code: 'payload_too_large' } as const
  const unknown = { status: 401, code: 'credentials_invalid' } as const
  const big = JSON.stringify({ username: 'demo', password: 'x'.repeat(65_536) })
  return [
    { name: 'a 64 KiB JSON body', headers: JSON_TYPE, body: big, ...tooLarge },
    {
      name: 'a 100 KiB body sent chunked, without Content-Length',
      headers: JSON_TYPE,
      body: Array.from({ length: 100 }, () => Buffer.alloc(1024, 0x20)),
      ...tooLarge,
    },
    { name: 'malformed JSON', headers: JSON_TYPE, body: '{"username": "demo", ', ...invalid },
    { name: 'an empty body', headers: JSON_TYPE, body: '', ...invalid },
    {
      name: 'bytes that are not UTF-8',
      headers: JSON_TYPE,
      body: Buffer.from([0x22, 0xff, 0x22]),
      ...invalid,
    },
    { name: 'text/plain', headers: { 'content-type': 'text/plain' }, body: '{}', ...invalid },
    {
      name: 'a form',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'username=demo&password=x',
      ...invalid,
    },
    {
      name: 'no Content-Type',
      headers: {},
      body: '{"username":"demo","password":"x"}',
      ...invalid,
    },
    {
      name: 'a malformed Content-Type',
      headers: { 'content-type': 'json/' },
      body: '{}',
      ...invalid,
    },
    {
      name: 'a charset other than UTF-8',
      headers: { 'content-type': 'application/json; charset=latin1' },
      body: '{}',
      ...invalid,
    },
    {
      name: 'gzip Content-Encoding',
      headers: { ...JSON_TYPE, 'content-encoding': 'gzip' },
      body: Buffer.from([0x1f, 0x8b, 0x08, 0x00]),
      ...invalid,
    },
    { name: 'a JSON array', headers: JSON_TYPE, body: '[]', ...invalid },
    { name: 'JSON null', headers: JSON_TYPE, body: 'null', ...invalid },
    { name: 'a JSON string', headers: JSON_TYPE, body: '"demo"', ...invalid },
    { name: 'a JSON number', headers: JSON_TYPE, body: '42', ...invalid },
    { name: 'no password', headers: JSON_TYPE, body: '{"username":"demo"}', ...invalid },
    {
      name: 'a number as password',
      headers: JSON_TYPE,
      body: '{"username":"demo","password":1}',
      ...invalid,
    },
    {
      name: 'an object as username',
      headers: JSON_TYPE,
      body: '{"username":{"$ne":""},"password":"x"}',
      ...invalid,
    },
    {
      name: 'a NUL in the username',
      headers: JSON_TYPE,
      body: '{"username":"demo\\u0000","password":"x"}',
      ...unknown,
    },
    {
      name: 'a lone surrogate in the username',
      headers: JSON_TYPE,
      body: '{"username":"\\ud800demo","password":"x"}',
      ...unknown,
    },
    {
      name: 'a NUL in the password',
      headers: JSON_TYPE,
      body: '{"username":"demo","password":"\\u0000"}',
      ...unknown,
    },
  ]
}

/** A raw HTTP answer. */
export interface RawAnswer {
  readonly status: number
  readonly headers: IncomingHttpHeaders
  readonly text: string
}

/**
 * Sends a POST with exactly these headers and body (no fetch: it would fix the framing). With
 * `partial`, sends the headers and only the first chunk, and answers as soon as the server does.
 */
export function rawPost(
  baseUrl: string,
  path: string,
  headers: Readonly<Record<string, string>>,
  body: string | Buffer | readonly Buffer[],
  partial = false,
): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const framing: Record<string, string> = Array.isArray(body)
      ? {}
      : { 'content-length': String(Buffer.byteLength(body as string | Buffer)) }
    const req = request(
      new URL(path, baseUrl),
      { method: 'POST', headers: { ...framing, ...headers }, agent: false },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (chunk: Buffer) => chunks.push(chunk))
        res.on('error', reject)
        res.on('end', () => {
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text: Buffer.concat(chunks).toString('utf8'),
          })
          if (partial) req.destroy()
        })
      },
    )
    req.on('error', reject)
    const chunks = Array.isArray(body) ? body : [body as string | Buffer]
    if (partial) {
      req.write(chunks[0] ?? '')
      return
    }
    for (const chunk of chunks) req.write(chunk)
    req.end()
  })
}

/** How a login answer differs from the problem expected (empty when it matches). */
export function problemMismatches(
  res: RawAnswer,
  expected: { readonly status: number; readonly code: string },
): string[] {
  const problems: string[] = []
  if (res.status !== expected.status)
    problems.push(`status ${res.status}: ${res.text.slice(0, 300)}`)
  if (res.headers['content-type'] !== 'application/problem+json') {
    problems.push(`content-type ${res.headers['content-type']}`)
  }
  if (res.headers['www-authenticate'] !== undefined) {
    problems.push(`a challenge on a login answer: ${res.headers['www-authenticate']}`)
  }
  if (/<html|<!doctype|\bat \S+ \(|node:internal|\.[jt]s:\d+:\d+/i.test(res.text))
    problems.push(`HTML or a stack trace: ${res.text.slice(0, 300)}`)
  try {
    const body = JSON.parse(res.text) as { status?: unknown; code?: unknown }
    if (body.status !== expected.status || body.code !== expected.code) {
      problems.push(`problem ${res.text}`)
    }
  } catch {
    problems.push(`not JSON: ${res.text.slice(0, 300)}`)
  }
  return problems
}
