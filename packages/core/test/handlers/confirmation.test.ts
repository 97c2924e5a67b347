import { selfSignedCertificate } from '@authframework/test-support/certificates'
import { describe, expect, it } from 'vitest'
import { checkConfirmation, NO_PROOF } from '../../src/handlers/confirmation.js'
import { createClientCertificates } from '../../src/mtls/client-certificate.js'
import type { RequestInput } from '../../src/types.js'
import { authErrorOf } from '../helpers.js'
import { INPUT } from './fixtures.js'

const JKT = 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs'

async function refusal(cnf: unknown, jkt?: string) {
  const error = await authErrorOf(() => checkConfirmation(cnf, INPUT, { jkt }))
  return { code: error.code, status: error.status, detail: error.message }
}

describe('checkConfirmation', () => {
  it('accepts a DPoP-bound token from a proof signed with its key', () => {
    expect(() => checkConfirmation({ jkt: JKT }, INPUT, { jkt: JKT })).not.toThrow()
  })

  it('refuses a DPoP-bound token without a proof (a stolen token sent as Bearer)', async () => {
    expect(await refusal({ jkt: JKT })).toEqual({
      code: 'token_invalid',
      status: 401,
      detail: 'The token is bound to a DPoP key and needs a DPoP proof.',
    })
  })

  it('refuses a proof signed with another key', async () => {
    expect((await refusal({ jkt: JKT }, `${JKT.slice(1)}A`)).detail).toBe(
      'The DPoP proof key is not the key the token is bound to.',
    )
    // a thumbprint is compared exactly: no case folding, no type coercion
    expect((await refusal({ jkt: JKT.toLowerCase() }, JKT)).code).toBe('token_invalid')
    expect((await refusal({ jkt: [JKT] }, JKT)).code).toBe('token_invalid')
  })

  it('refuses every binding it cannot check, and a malformed cnf', async () => {
    for (const cnf of [{ jwk: { kty: 'EC' } }, { kid: 'k1' }, { jku: 'https://x' }, { x5t: 'a' }]) {
      expect((await refusal(cnf, JKT)).detail).toBe(
        'The token is bound by a confirmation method not supported here.',
      )
    }
    // a known method beside an unknown one: every method must hold
    expect((await refusal({ jkt: JKT, jwk: { kty: 'EC' } }, JKT)).code).toBe('token_invalid')
    for (const cnf of [null, 'jkt', 1, true, [JKT], {}]) {
      expect((await refusal(cnf, JKT)).status).toBe(401)
    }
  })

  it('is what a plain Bearer request proves: nothing', () => {
    expect(NO_PROOF.jkt).toBeUndefined()
    expect(Object.isFrozen(NO_PROOF)).toBe(true)
  })
})

describe('checkConfirmation of a certificate-bound token (RFC 8705)', () => {
  const client = selfSignedCertificate('bound-client')
  const other = selfSignedCertificate('other-client')
  const over = (der: Uint8Array | undefined): RequestInput => ({
    authorization: undefined,
    clientCertificate: der,
  })

  async function certificateRefusal(cnf: unknown, input: RequestInput) {
    const error = await authErrorOf(() => checkConfirmation(cnf, input, NO_PROOF))
    return { code: error.code, status: error.status, detail: error.message }
  }

  it('accepts the token over a connection with the certificate it is bound to', () => {
    const cnf = { 'x5t#S256': client.thumbprint }
    expect(() => checkConfirmation(cnf, over(client.der), NO_PROOF)).not.toThrow()
  })

  it('refuses it with another certificate, or none', async () => {
    const cnf = { 'x5t#S256': client.thumbprint }
    expect(await certificateRefusal(cnf, over(other.der))).toEqual({
      code: 'token_invalid',
      status: 401,
      detail: 'The client certificate is not the certificate the token is bound to.',
    })
    expect(await certificateRefusal(cnf, over(undefined))).toEqual({
      code: 'token_invalid',
      status: 401,
      detail: 'The token is bound to a client certificate and the request presented none.',
    })
  })

  it('refuses a thumbprint that is not one, before reading any certificate', async () => {
    const reads: string[] = []
    const input = {
      authorization: undefined,
      get clientCertificate() {
        reads.push('clientCertificate')
        return client.der
      },
    }
    const t = client.thumbprint
    for (const value of [
      [t],
      null,
      1,
      '',
      `${t}=`, // padding
      t.slice(0, 42),
      `${t}A`,
      `+${t.slice(1)}`, // base64, not base64url
      `${t.slice(0, 42)}B`, // unused bits set: not canonical
      Buffer.from(client.der).toString('hex'),
    ]) {
      const refused = await certificateRefusal({ 'x5t#S256': value }, input)
      expect(refused.detail).toBe('The "cnf" claim\'s "x5t#S256" is not a SHA-256 thumbprint.')
    }
    expect(reads).toEqual([])
  })

  it('compares exactly: no case folding', async () => {
    const cnf = { 'x5t#S256': client.thumbprint.toLowerCase() }
    expect((await certificateRefusal(cnf, over(client.der))).code).toBe('token_invalid')
  })

  it('needs both bindings of a token bound to a DPoP key and a certificate', async () => {
    const cnf = { jkt: JKT, 'x5t#S256': client.thumbprint }
    expect(() => checkConfirmation(cnf, over(client.der), { jkt: JKT })).not.toThrow()
    expect((await certificateRefusal(cnf, over(client.der))).code).toBe('token_invalid')
    const error = await authErrorOf(() => checkConfirmation(cnf, over(other.der), { jkt: JKT }))
    expect(error.code).toBe('token_invalid')
  })

  it('reads the certificate where the instance says: a proxy header when configured', async () => {
    const certificates = createClientCertificates({
      certificateHeader: 'client-cert',
      headerFormat: 'rfc9440',
      maxHeaderBytes: 8192,
    })
    const cnf = { 'x5t#S256': client.thumbprint }
    const forwarded = (der: Buffer): RequestInput => ({
      authorization: undefined,
      clientCertificate: other.der,
      headers: { 'client-cert': `:${der.toString('base64')}:` },
    })
    expect(() =>
      checkConfirmation(cnf, forwarded(client.der), NO_PROOF, certificates),
    ).not.toThrow()
    const error = await authErrorOf(() =>
      checkConfirmation(cnf, forwarded(other.der), NO_PROOF, certificates),
    )
    expect(error.message).toBe(
      'The client certificate is not the certificate the token is bound to.',
    )
  })
})
