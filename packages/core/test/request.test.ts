import { describe, expect, it } from 'vitest'
import { fetchRequestLike, type NodeRequestLike, requestInput, urlPath } from '../src/index.js'

/** A Node request look-alike that counts reads of everything but the credential headers. */
function counted(fields: Partial<NodeRequestLike>) {
  const reads: string[] = []
  const raw = new Proxy(
    { headers: { authorization: 'Bearer t', cookie: 'a=b', dpop: 'proof' }, ...fields },
    {
      get(target, key) {
        if (typeof key === 'string' && key !== 'headers' && key !== 'rawHeaders') reads.push(key)
        return target[key as keyof typeof target]
      },
    },
  )
  return { raw: raw as NodeRequestLike, reads }
}

describe('requestInput', () => {
  it('reads the credential headers at once and the rest only when asked', () => {
    const { raw, reads } = counted({
      method: 'POST',
      url: '/orders?page=2',
      socket: { remoteAddress: '192.0.2.1' },
    })
    const input = requestInput(raw, { framework: true })
    expect(input).toMatchObject({ authorization: 'Bearer t', cookie: 'a=b' })
    expect(input.request).toEqual({ framework: true })
    expect(reads).toEqual([])
    expect(input.method).toBe('POST')
    expect(input.url).toBe('/orders?page=2')
    expect(input.path).toBe('/orders')
    expect(input.clientAddress).toBe('192.0.2.1')
    expect(input.headers?.dpop).toBe('proof')
    expect(reads).toEqual(['method', 'originalUrl', 'url', 'originalUrl', 'url', 'socket'])
  })

  it('prefers the URL as the client sent it over a rewritten one (Express routers)', () => {
    const { raw } = counted({ url: '/inner', originalUrl: '/api/inner?x=1' })
    const input = requestInput(raw)
    expect(input.url).toBe('/api/inner?x=1')
    expect(input.path).toBe('/api/inner')
  })

  it('uses the headers the adapter already read', () => {
    const { raw } = counted({})
    const input = requestInput(raw, undefined, { authorization: 'Bearer other' })
    expect(input.authorization).toBe('Bearer other')
    expect(input.cookie).toBeUndefined()
  })
})

describe('urlPath', () => {
  it.each([
    ['/a', '/a'],
    ['/a?b=c', '/a'],
    ['/?', '/'],
    ['', ''],
  ])('%j -> %j', (url, path) => {
    expect(urlPath(url)).toBe(path)
  })
})

describe('fetchRequestLike', () => {
  it('reads a Fetch Request as the core reads a Node one: credentials, method, target', () => {
    const headers = new Headers({ Authorization: 'Bearer t', Cookie: 'sid=1', DPoP: 'proof' })
    const request = new Request('https://api.example/orders/7?expand=1', {
      method: 'PATCH',
      headers,
    })
    const input = requestInput(fetchRequestLike(request), request)
    expect(input.authorization).toBe('Bearer t')
    expect(input.cookie).toBe('sid=1')
    expect(input.headers?.dpop).toBe('proof')
    expect(input.method).toBe('PATCH')
    expect(input.url).toBe('/orders/7?expand=1')
    expect(input.path).toBe('/orders/7')
    expect(input.request).toBe(request)
  })

  it('sees repeated Authorization headers as the one joined value Fetch keeps', () => {
    const headers = new Headers([
      ['authorization', 'Bearer a'],
      ['authorization', 'Bearer b'],
    ])
    const input = requestInput(fetchRequestLike(new Request('https://api.example/', { headers })))
    expect(input.authorization).toBe('Bearer a, Bearer b')
  })
})

describe('requestInput: the TLS client certificate', () => {
  const der = Buffer.from([0x30, 0x00])

  function tlsSocket(raw: Uint8Array | undefined, encrypted = true) {
    const socket = {
      encrypted,
      calls: 0,
      getPeerCertificate() {
        socket.calls++
        // Node builds a new object and buffer on each call; `{}` when there is no certificate
        return raw === undefined ? {} : { raw: Buffer.from(raw) }
      },
    }
    return socket
  }

  it('is read only when asked, once per connection (the same buffer on every request)', () => {
    const socket = tlsSocket(der)
    const first = requestInput({ headers: {}, socket })
    expect(socket.calls).toBe(0)
    const certificate = first.clientCertificate
    expect(certificate).toEqual(der)
    const second = requestInput({ headers: {}, socket })
    expect(second.clientCertificate).toBe(certificate)
    expect(socket.calls).toBe(1)
  })

  it('is undefined without one, and asked again (a later handshake may present one)', () => {
    const socket = tlsSocket(undefined)
    expect(requestInput({ headers: {}, socket }).clientCertificate).toBeUndefined()
    expect(requestInput({ headers: {}, socket }).clientCertificate).toBeUndefined()
    expect(socket.calls).toBe(2)
  })

  it('is undefined over plain TCP and without a socket (Fetch requests)', () => {
    const plain = tlsSocket(der, false)
    expect(requestInput({ headers: {}, socket: plain }).clientCertificate).toBeUndefined()
    expect(plain.calls).toBe(0)
    expect(requestInput({ headers: {} }).clientCertificate).toBeUndefined()
    const fetched = fetchRequestLike(new Request('https://api.example/orders'))
    expect(requestInput(fetched).clientCertificate).toBeUndefined()
  })
})
