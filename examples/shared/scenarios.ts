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
