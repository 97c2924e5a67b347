import { describe, expect, it } from 'vitest'
import { checkConfirmation, NO_PROOF } from '../../src/handlers/confirmation.js'
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
    expect(
      (await refusal({ 'x5t#S256': 'bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2' })).code,
    ).toBe('token_invalid')
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
