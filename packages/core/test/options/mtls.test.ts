import { describe, expect, it } from 'vitest'
import { type AuthOptions, createAuth } from '../../src/index.js'
import { resolveOptions } from '../../src/options/resolve.js'
import { AUDIENCE, rsaKeyPair } from '../helpers.js'

const rsa = rsaKeyPair()
const BASE = { algorithms: ['RS256'], publicKey: rsa.publicPem, audience: AUDIENCE } as const

describe('the mtls option', () => {
  it('is off by default: the TLS connection certificate is used', () => {
    expect(resolveOptions({ ...BASE }).mtls).toBeUndefined()
  })

  it('resolves the header name lower-cased, with the defaults, frozen', () => {
    const { mtls } = resolveOptions({ ...BASE, mtls: { certificateHeader: 'Client-Cert' } })
    expect(mtls).toEqual({
      certificateHeader: 'client-cert',
      headerFormat: 'rfc9440',
      maxHeaderBytes: 8192,
    })
    expect(Object.isFrozen(mtls)).toBe(true)
    const pem = resolveOptions({
      ...BASE,
      mtls: { certificateHeader: 'x-ssl-client-cert', headerFormat: 'pem', maxHeaderBytes: 16384 },
    }).mtls
    expect(pem).toEqual({
      certificateHeader: 'x-ssl-client-cert',
      headerFormat: 'pem',
      maxHeaderBytes: 16384,
    })
  })

  it.each([
    [null, 'createAuth: mtls must be an object'],
    ['client-cert', 'createAuth: mtls must be an object'],
    [{}, 'createAuth: mtls.certificateHeader must be the name of the header'],
    [{ certificateHeader: '' }, 'createAuth: mtls.certificateHeader must'],
    [{ certificateHeader: 'client cert' }, 'createAuth: mtls.certificateHeader must'],
    [{ certificateHeader: 'Authorization' }, 'createAuth: mtls.certificateHeader must'],
    [{ certificateHeader: 'cookie' }, 'createAuth: mtls.certificateHeader must'],
    [
      { certificateHeader: 'client-cert', headerFormat: 'der' },
      "createAuth: mtls.headerFormat must be 'rfc9440', 'pem' or 'base64'",
    ],
    [
      { certificateHeader: 'client-cert', maxHeaderBytes: 0 },
      'createAuth: mtls.maxHeaderBytes must be a positive integer',
    ],
  ])('refuses %j', (mtls, message) => {
    expect(() => createAuth({ ...BASE, mtls } as unknown as AuthOptions)).toThrow(TypeError)
    expect(() => createAuth({ ...BASE, mtls } as unknown as AuthOptions)).toThrow(message)
  })
})
