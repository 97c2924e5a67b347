import { describe, expect, it } from 'vitest'
import { normalizeHtu, requestHtu } from '../../src/dpop/htu.js'
import type { RequestInput } from '../../src/types.js'

describe('normalizeHtu', () => {
  it('normalizes scheme and host case, default ports, dot segments and percent-encodings', () => {
    const same = [
      'https://api.example/a/b',
      'HTTPS://API.Example/a/b',
      'https://api.example:443/a/b',
      'https://api.example/a/./c/../b',
      'https://api.example/%61/b',
      'https://api.example/a/b?x=1#f',
    ]
    for (const value of same) expect(normalizeHtu(value)).toBe('https://api.example/a/b')
    expect(normalizeHtu('http://api.example:80')).toBe('http://api.example/')
    expect(normalizeHtu('https://api.example/%7e%2f')).toBe('https://api.example/~%2F')
    expect(normalizeHtu('http://api.example:8080/x')).toBe('http://api.example:8080/x')
  })

  it('keeps the path case and the difference between encoded and plain reserved characters', () => {
    expect(normalizeHtu('https://api.example/A')).not.toBe(normalizeHtu('https://api.example/a'))
    expect(normalizeHtu('https://api.example/a%2Fb')).not.toBe(
      normalizeHtu('https://api.example/a/b'),
    )
  })

  it('refuses relative references, other schemes and user information', () => {
    for (const value of [
      '/a',
      'ftp://api.example/a',
      'https://user:pw@api.example/a',
      'not a url',
    ]) {
      expect(normalizeHtu(value)).toBeUndefined()
    }
  })
})

describe('requestHtu', () => {
  const input = (extra: Partial<RequestInput>): RequestInput => ({
    authorization: undefined,
    origin: 'http://127.0.0.1:3000',
    url: '/orders?page=2',
    ...extra,
  })
  const none = { origin: undefined, url: undefined }

  it('is the request origin and path by default, or the configured origin', () => {
    expect(requestHtu(input({}), none)).toBe('http://127.0.0.1:3000/orders')
    expect(requestHtu(input({}), { origin: 'https://api.example', url: undefined })).toBe(
      'https://api.example/orders',
    )
  })

  it('is what the url option answers, when given', () => {
    const url = (request: unknown) => `https://api.example${(request as { url: string }).url}`
    expect(requestHtu(input({ request: { url: '/x?y' } }), { origin: undefined, url })).toBe(
      'https://api.example/x',
    )
    expect(requestHtu(input({}), { origin: undefined, url: () => 7 as never })).toBeUndefined()
  })

  it('is unknown without an origin, or for a target that is not a path', () => {
    expect(requestHtu(input({ origin: undefined }), none)).toBeUndefined()
    expect(requestHtu(input({ url: 'http://evil.example/orders' }), none)).toBeUndefined()
    expect(requestHtu(input({ url: '//evil.example/orders' }), none)).toBeUndefined()
    expect(requestHtu(input({ url: undefined }), none)).toBeUndefined()
  })
})
