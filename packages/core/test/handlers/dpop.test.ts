import { makeProof, type ProofSpec, proofKey } from '@authframework/test-support/dpop'
import { describe, expect, it } from 'vitest'
import { createAuth } from '../../src/authenticate.js'
import { requireDpop } from '../../src/dpop/require.js'
import type { AuthOptions } from '../../src/options/types.js'
import { createStepUpGuard } from '../../src/permissions/step-up.js'
import type { RequestInput } from '../../src/types.js'
import {
  AUDIENCE,
  authErrorOf,
  claims,
  fakeClock,
  handSign,
  ISSUER,
  NOW_S,
  rsaKeyPair,
  summary,
} from '../helpers.js'

const issuer = rsaKeyPair()
const key = proofKey('ES256')
const ORIGIN = 'https://api.example'
const HTU = `${ORIGIN}/orders`
const ALGS = 'algs="ES256 ES384 EdDSA PS256 RS256"'

const tokenOf = (extra: Record<string, unknown> = {}) =>
  handSign(
    { alg: 'RS256' },
    claims({ perms: ['orders:read'], ...extra }),
    'RS256',
    issuer.privateKey,
  )
const bound = tokenOf({ cnf: { jkt: key.jkt } })

function setup(dpop: AuthOptions['dpop'] = 'allowed', extra: Partial<AuthOptions> = {}) {
  const time = fakeClock()
  const auth = createAuth({
    algorithms: ['RS256'],
    publicKey: issuer.publicPem,
    issuer: ISSUER,
    audience: AUDIENCE,
    clock: time.clock,
    dpop,
    ...extra,
  })
  return { auth, time }
}

function input(
  authorization: string | undefined,
  dpop?: string | string[],
  extra: Partial<RequestInput> = {},
): RequestInput {
  const headers: Record<string, string | string[] | undefined> = { dpop }
  return { authorization, method: 'GET', url: '/orders?page=1', origin: ORIGIN, headers, ...extra }
}

const proof = (extra: Partial<ProofSpec> = {}) =>
  makeProof(key, { htu: HTU, iat: NOW_S, token: bound, ...extra })

const dpopChallenge = (error: string, description: string) =>
  `DPoP realm="api", error="${error}", error_description="${description}", ${ALGS}`

describe('the DPoP handler', () => {
  it('accepts a DPoP-bound token with its proof, cached or not, a fresh proof each time', async () => {
    const { auth } = setup()
    for (let i = 0; i < 3; i++) {
      const ctx = await auth.authenticate(input(`DPoP ${bound}`, proof()))
      expect(ctx?.claims.cnf).toEqual({ jkt: key.jkt })
      expect(ctx?.permissions).toEqual(['orders:read'])
    }
    // the scheme is case-insensitive
    expect((await auth.authenticate(input(`dpop ${bound}`, proof())))?.sub).toBe('user-1')
  })

  it('refuses a replayed proof, on a cached token too', async () => {
    const { auth } = setup()
    const once = proof()
    await auth.authenticate(input(`DPoP ${bound}`, once))
    const error = await authErrorOf(() => auth.authenticate(input(`DPoP ${bound}`, once)))
    expect(summary(error)).toEqual({
      code: 'dpop_proof_invalid',
      status: 401,
      'www-authenticate': dpopChallenge(
        'invalid_dpop_proof',
        'The DPoP proof has been used before.',
      ),
    })
  })

  it('refuses a missing or repeated DPoP header', async () => {
    const { auth } = setup()
    const missing = await authErrorOf(() => auth.authenticate(input(`DPoP ${bound}`)))
    expect(summary(missing)['www-authenticate']).toBe(
      dpopChallenge('invalid_dpop_proof', 'The DPoP scheme needs the proof in a DPoP header.'),
    )
    for (const twice of [[proof(), proof()], `${proof()}, ${proof()}`]) {
      const error = await authErrorOf(() => auth.authenticate(input(`DPoP ${bound}`, twice)))
      expect(summary(error)).toEqual({
        code: 'dpop_proof_invalid',
        status: 401,
        'www-authenticate': dpopChallenge(
          'invalid_dpop_proof',
          'The DPoP header was sent more than once.',
        ),
      })
    }
  })

  it('refuses a proof by another key than the token is bound to, in a DPoP invalid_token challenge', async () => {
    const { auth } = setup()
    const other = makeProof(proofKey('ES256'), { htu: HTU, iat: NOW_S, token: bound })
    const error = await authErrorOf(() => auth.authenticate(input(`DPoP ${bound}`, other)))
    expect(summary(error)).toEqual({
      code: 'token_invalid',
      status: 401,
      'www-authenticate': dpopChallenge(
        'invalid_token',
        'The DPoP proof key is not the key the token is bound to.',
      ),
    })
  })

  it('refuses a token without cnf.jkt sent with the DPoP scheme', async () => {
    const { auth } = setup()
    const plain = tokenOf()
    const p = makeProof(key, { htu: HTU, iat: NOW_S, token: plain })
    const error = await authErrorOf(() => auth.authenticate(input(`DPoP ${plain}`, p)))
    expect(summary(error)['www-authenticate']).toBe(
      dpopChallenge(
        'invalid_token',
        'The token is not bound to a DPoP key: send it with the Bearer scheme.',
      ),
    )
  })

  it('refuses a DPoP-bound token sent as Bearer, and a Bearer token with a DPoP header', async () => {
    const { auth } = setup()
    const asBearer = await authErrorOf(() => auth.authenticate(input(`Bearer ${bound}`)))
    expect(summary(asBearer)).toEqual({
      code: 'token_invalid',
      status: 401,
      'www-authenticate':
        'Bearer realm="api", error="invalid_token", error_description="The token is bound to a DPoP key and needs a DPoP proof."',
    })
    const withProof = await authErrorOf(() => auth.authenticate(input(`Bearer ${bound}`, proof())))
    expect(summary(withProof)).toEqual({
      code: 'invalid_request',
      status: 400,
      'www-authenticate':
        'Bearer realm="api", error="invalid_request", error_description="A DPoP proof was sent with the Bearer scheme; use the DPoP scheme."',
    })
  })

  it('challenges a request without credentials for both schemes, or DPoP alone when required', async () => {
    const allowed = await authErrorOf(() => setup('allowed').auth.authenticate(input(undefined)))
    expect(summary(allowed)).toEqual({
      code: 'credentials_missing',
      status: 401,
      'www-authenticate': `Bearer realm="api", DPoP realm="api", ${ALGS}`,
    })
    const required = await authErrorOf(() => setup('required').auth.authenticate(input(undefined)))
    expect(summary(required)['www-authenticate']).toBe(`DPoP realm="api", ${ALGS}`)
  })

  it('with required, refuses every bearer token', async () => {
    const { auth } = setup('required')
    const error = await authErrorOf(() => auth.authenticate(input(`Bearer ${tokenOf()}`)))
    expect(summary(error)).toEqual({
      code: 'dpop_required',
      status: 401,
      'www-authenticate': dpopChallenge(
        'invalid_token',
        'Only DPoP-bound tokens sent with the DPoP scheme are accepted.',
      ),
    })
    expect((await auth.authenticate(input(`DPoP ${bound}`, proof())))?.sub).toBe('user-1')
  })

  it('is off by default: the DPoP scheme is no credential and a bound token is refused', async () => {
    const { auth } = setup(false)
    const error = await authErrorOf(() => auth.authenticate(input(`DPoP ${bound}`, proof())))
    expect(summary(error)).toEqual({
      code: 'credentials_missing',
      status: 401,
      'www-authenticate': 'Bearer realm="api"',
    })
    await expect(auth.verify(bound)).rejects.toMatchObject({ code: 'token_invalid' })
  })

  it('checks htm and htu against the request, and the configured origin', async () => {
    const { auth } = setup({ origin: 'https://public.example' })
    const here = makeProof(key, { htu: 'https://public.example/orders', iat: NOW_S, token: bound })
    expect((await auth.authenticate(input(`DPoP ${bound}`, here)))?.sub).toBe('user-1')
    const error = await authErrorOf(() => auth.authenticate(input(`DPoP ${bound}`, proof())))
    expect(error.message).toBe('The DPoP proof is for another URI.')
    const post = makeProof(key, { htu: 'https://public.example/orders', iat: NOW_S, token: bound })
    const method = await authErrorOf(() =>
      auth.authenticate(input(`DPoP ${bound}`, post, { method: 'POST' })),
    )
    expect(method.message).toBe('The DPoP proof is for another HTTP method.')
  })

  it('asks for a nonce with use_dpop_nonce and a DPoP-Nonce header, then accepts it', async () => {
    const { auth } = setup({ nonce: { secret: 's'.repeat(32) } })
    const error = await authErrorOf(() => auth.authenticate(input(`DPoP ${bound}`, proof())))
    const nonce = error.headers['dpop-nonce']!
    expect(error.headers).toEqual({
      'www-authenticate': dpopChallenge(
        'use_dpop_nonce',
        'The DPoP proof must carry the server nonce.',
      ),
      'dpop-nonce': nonce,
    })
    expect((await auth.authenticate(input(`DPoP ${bound}`, proof({ nonce }))))?.sub).toBe('user-1')
  })

  it('refuses a malformed DPoP authorization header with 400, in a DPoP challenge', async () => {
    const { auth } = setup()
    const error = await authErrorOf(() => auth.authenticate(input(`DPoP ${bound} x`, proof())))
    expect(summary(error)).toEqual({
      code: 'invalid_request',
      status: 400,
      'www-authenticate': dpopChallenge(
        'invalid_request',
        'The DPoP credentials must be exactly one token68.',
      ),
    })
  })

  it('gives client clocks dpop.clockToleranceSeconds of leeway (default 5)', async () => {
    const { auth } = setup()
    const ahead = proof({ iat: NOW_S + 5 })
    expect((await auth.authenticate(input(`DPoP ${bound}`, ahead)))?.sub).toBe('user-1')
    const further = await authErrorOf(() =>
      auth.authenticate(input(`DPoP ${bound}`, proof({ iat: NOW_S + 6 }))),
    )
    expect(further.message).toBe('The DPoP proof is issued in the future.')
  })

  it('tells a permission refusal of a DPoP caller in the DPoP challenge', async () => {
    const { auth } = setup()
    const ctx = await auth.authenticate(input(`DPoP ${bound}`, proof()))
    const guard = auth.guard('orders:write')
    const error = await authErrorOf(() => auth.authorize(guard, ctx, undefined))
    expect(summary(error)['www-authenticate']).toBe(
      `DPoP realm="api", error="insufficient_scope", error_description="The token does not grant the required permissions.", scope="orders:write", ${ALGS}`,
    )
  })

  it('tells a step-up refusal of a DPoP caller in the DPoP challenge', async () => {
    const { auth } = setup()
    const ctx = await auth.authenticate(input(`DPoP ${bound}`, proof()))
    const guard = createStepUpGuard({ acrValues: ['mfa'] })
    const error = await authErrorOf(() => auth.authorize(guard, ctx, undefined))
    expect(summary(error)['www-authenticate']).toMatch(
      /^DPoP realm="api", error="insufficient_user_authentication", .*acr_values="mfa", algs="ES256 ES384 EdDSA PS256 RS256"$/,
    )
  })

  it('requireDpop makes a route DPoP-only', async () => {
    const { auth } = setup()
    const guard = auth.guard(requireDpop())
    const viaDpop = await auth.authenticate(input(`DPoP ${bound}`, proof()))
    expect(() => auth.authorize(guard, viaDpop, undefined)).not.toThrow()
    const viaBearer = await auth.authenticate(input(`Bearer ${tokenOf()}`))
    const error = await authErrorOf(() => auth.authorize(guard, viaBearer, undefined))
    expect(summary(error)).toEqual({
      code: 'dpop_required',
      status: 401,
      'www-authenticate': dpopChallenge(
        'invalid_token',
        'This route accepts only DPoP-bound tokens sent with the DPoP scheme.',
      ),
    })
  })
})
