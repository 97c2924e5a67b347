import { selfSignedCertificate } from '@authframework/test-support/certificates'
import { describe, expect, it } from 'vitest'
import { forwardedCertificate } from '../../src/mtls/forwarded.js'
import { authErrorOf } from '../helpers.js'

const client = selfSignedCertificate('forwarded-leaf')
const issuer = selfSignedCertificate('forwarded-issuer')
const base64 = client.der.toString('base64')

/** nginx's `$ssl_client_escaped_cert`: the PEM, URL-encoded (`+`, `/` and `=` escaped too). */
const nginxEscaped = (pem: string) => encodeURIComponent(pem)

async function refusal(value: string | string[], format: 'rfc9440' | 'pem' | 'base64') {
  const error = await authErrorOf(() => forwardedCertificate(value, format, 8192))
  return { status: error.status, code: error.code, detail: error.message }
}

describe('forwardedCertificate', () => {
  it('reads RFC 9440 Client-Cert: a byte sequence of the DER', () => {
    expect(forwardedCertificate(`:${base64}:`, 'rfc9440', 8192)).toEqual(client.der)
    // optional whitespace around a field value is not part of it
    expect(forwardedCertificate(` :${base64}: `, 'rfc9440', 8192)).toEqual(client.der)
  })

  it('reads URL-encoded PEM (nginx, AWS ALB) and PEM with its line breaks as spaces', () => {
    expect(forwardedCertificate(nginxEscaped(client.cert), 'pem', 8192)).toEqual(client.der)
    // AWS ALB leaves "+", "/" and "=" unescaped: a "+" is base64, never a space
    const alb = encodeURIComponent(client.cert).replace(/%2B/g, '+').replace(/%2F/g, '/')
    expect(forwardedCertificate(alb.replace(/%3D/g, '='), 'pem', 8192)).toEqual(client.der)
    expect(forwardedCertificate(client.cert.replace(/\n/g, ' '), 'pem', 8192)).toEqual(client.der)
  })

  it('takes the first certificate of a PEM chain: the client certificate comes first', () => {
    const chain = nginxEscaped(client.cert + issuer.cert)
    expect(forwardedCertificate(chain, 'pem', 8192)).toEqual(client.der)
  })

  it('reads the base64 DER alone (HAProxy), or URL-encoded (Traefik)', () => {
    expect(forwardedCertificate(base64, 'base64', 8192)).toEqual(client.der)
    // Go's url.QueryEscape, as Traefik sends it: "+", "/" and "=" escaped
    const traefik = base64.replace(/\+/g, '%2B').replace(/\//g, '%2F').replace(/=/g, '%3D')
    expect(forwardedCertificate(traefik, 'base64', 8192)).toEqual(client.der)
  })

  it('refuses a value over the limit before decoding it', async () => {
    expect(await refusal(`:${base64}:${' '.repeat(8192)}`, 'rfc9440')).toEqual({
      status: 401,
      code: 'token_invalid',
      detail: 'The forwarded client certificate is longer than 8192 bytes.',
    })
    expect(() => forwardedCertificate(`:${base64}:`, 'rfc9440', base64.length + 1)).toThrow(
      'longer than',
    )
  })

  it.each([
    ['no colons', base64],
    ['one colon', `:${base64}`],
    ['a parameter', `:${base64}:;x=1`],
    ['base64url', `:${client.der.toString('base64url')}:`],
    ['a length of 1 modulo 4', `:A${base64}:`],
    ['too much padding', `:${base64}===:`],
    ['a space inside', `:${base64.slice(0, 8)} ${base64.slice(8)}:`],
    ['empty', '::'],
    ['not a certificate', `:${Buffer.from('hello world!').toString('base64')}:`],
    ['a truncated certificate', `:${client.der.subarray(0, 200).toString('base64')}:`],
  ])('refuses an RFC 9440 value with %s', async (_name, value) => {
    const refused = await refusal(value, 'rfc9440')
    expect(refused).toMatchObject({ status: 401, code: 'token_invalid' })
    expect(refused.detail).toMatch(/^The forwarded client certificate is not /)
  })

  it.each([
    ['a broken escape', '%E0%A4%A'],
    ['no PEM', 'hello'],
    ['no END line', nginxEscaped(client.cert.replace('-----END CERTIFICATE-----', ''))],
    ['garbage after the block', nginxEscaped(`${client.cert}junk`)],
    ['a damaged second block', nginxEscaped(`${client.cert}${issuer.cert.replace('M', '*')}`)],
    ['a private key', nginxEscaped(client.key)],
    ['base64 that is not a certificate', nginxEscaped(client.cert.replace(/M/g, 'N'))],
  ])('refuses PEM with %s', async (_name, value) => {
    expect(await refusal(value, 'pem')).toMatchObject({ status: 401, code: 'token_invalid' })
  })

  it.each([
    ['PEM', client.cert],
    ['garbage', '!!!!'],
    ['a broken escape', `${base64.slice(0, 8)}%2`],
    ['an escaped space', `${base64.slice(0, 8)}%20${base64.slice(8)}`],
  ])('refuses base64 with %s', async (_name, value) => {
    expect(await refusal(value, 'base64')).toMatchObject({ status: 401, code: 'token_invalid' })
  })

  it('refuses a repeated header (joined with commas, or an array) whatever the format', async () => {
    const repeated = [
      [`:${base64}:, :${base64}:`, 'rfc9440'],
      [`${nginxEscaped(client.cert)}, ${nginxEscaped(issuer.cert)}`, 'pem'],
      [`${base64},${issuer.der.toString('base64')}`, 'base64'],
      [[`:${base64}:`], 'rfc9440'],
    ] as const
    for (const [value, format] of repeated) {
      expect((await refusal(value as string, format)).detail).toBe(
        'The forwarded client certificate is not one header value.',
      )
    }
  })
})
