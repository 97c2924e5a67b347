/**
 * DPoP (RFC 9449) through every adapter: the attacks the RFC lists (a replayed proof, a proof for
 * another URI or method, a proof key that is not the token's `cnf.jkt`, a DPoP-bound token sent
 * as Bearer, an unbound token sent with the DPoP scheme, a proof without `ath`), the challenges,
 * server nonces, and the happy path with a cached token and a fresh proof each time. Each case
 * asserts the status, the problem `code` and the exact `WWW-Authenticate` header.
 */
import { makeProof, type ProofSpec, proofKey } from '@authframework/test-support/dpop'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  ADAPTERS,
  type AdapterName,
  baseOptions,
  type Response,
  type RunningApp,
  startApp,
} from './support/apps.js'
import { NOW, token } from './support/tokens.js'

const key = proofKey('ES256')
const bound = token({ claims: { cnf: { jkt: key.jkt } } })
const unbound = token()
const ALGS = 'algs="ES256 ES384 EdDSA PS256 RS256"'
const PUBLIC_ORIGIN = 'https://api.example'

/** Where an app listens, as the `Host` header of the test client names it. */
const originOf = (app: RunningApp) => `http://127.0.0.1:${app.port}`

const dpopChallenge = (error: string, description: string) =>
  `DPoP realm="api", error="${error}", error_description="${description}", ${ALGS}`

function expectProblem(res: Response, status: number, code: string, www: string | null) {
  expect(res.status, res.text).toBe(status)
  expect(res.headers['www-authenticate'] ?? null).toBe(www)
  expect(res.headers['content-type']).toBe('application/problem+json')
  expect((res.body as { code: string }).code).toBe(code)
}

describe.each(ADAPTERS)('DPoP contract: %s', (adapter: AdapterName) => {
  let allowed: RunningApp
  let required: RunningApp
  let nonced: RunningApp
  beforeAll(async () => {
    allowed = await startApp(adapter, { ...baseOptions(), dpop: 'allowed' })
    required = await startApp(adapter, {
      ...baseOptions(),
      dpop: { mode: 'required', origin: PUBLIC_ORIGIN },
    })
    nonced = await startApp(adapter, {
      ...baseOptions(),
      dpop: { nonce: { secret: 'a-nonce-secret-of-32-bytes-or-more!' } },
    })
  })
  afterAll(async () => {
    await Promise.all([allowed.close(), required.close(), nonced.close()])
  })

  /** A fresh proof for `GET /me` of the app (its own origin unless given), with the token's ath. */
  const proof = (app: RunningApp, extra: Partial<ProofSpec> = {}, origin = originOf(app)) =>
    makeProof(key, { htu: `${origin}/me`, iat: NOW, token: bound, ...extra })
  const dpop = (tok: string, ...proofs: string[]): [string, string][] => [
    ['Authorization', `DPoP ${tok}`],
    ...proofs.map((p): [string, string] => ['DPoP', p]),
  ]

  it('accepts a DPoP-bound token with its proof, cached, with a fresh proof each time', async () => {
    for (let i = 0; i < 3; i++) {
      const res = await allowed.request('/me', dpop(bound, proof(allowed)))
      expect(res.status, res.text).toBe(200)
      expect(res.body).toMatchObject({ auth: { sub: 'user-1', claims: { cnf: { jkt: key.jkt } } } })
    }
    // the query is not part of htu; the scheme is case-insensitive
    const res = await allowed.request('/me?x=1', [
      ['Authorization', `dpop ${bound}`],
      ['DPoP', proof(allowed)],
    ])
    expect(res.status, res.text).toBe(200)
  })

  it('refuses a replayed proof', async () => {
    const once = proof(allowed)
    expect((await allowed.request('/me', dpop(bound, once))).status).toBe(200)
    const res = await allowed.request('/me', dpop(bound, once))
    expectProblem(
      res,
      401,
      'dpop_proof_invalid',
      dpopChallenge('invalid_dpop_proof', 'The DPoP proof has been used before.'),
    )
  })

  it('refuses a proof for another URI or another method', async () => {
    const elsewhere = proof(allowed, { htu: `${originOf(allowed)}/orders` })
    expectProblem(
      await allowed.request('/me', dpop(bound, elsewhere)),
      401,
      'dpop_proof_invalid',
      dpopChallenge('invalid_dpop_proof', 'The DPoP proof is for another URI.'),
    )
    const otherHost = proof(allowed, {}, 'http://127.0.0.2:1')
    expect((await allowed.request('/me', dpop(bound, otherHost))).status).toBe(401)
    expectProblem(
      await allowed.request('/me', dpop(bound, proof(allowed, { htm: 'POST' }))),
      401,
      'dpop_proof_invalid',
      dpopChallenge('invalid_dpop_proof', 'The DPoP proof is for another HTTP method.'),
    )
  })

  it('refuses a proof signed by a key other than the token is bound to', async () => {
    const thief = makeProof(proofKey('ES256'), {
      htu: `${originOf(allowed)}/me`,
      iat: NOW,
      token: bound,
    })
    expectProblem(
      await allowed.request('/me', dpop(bound, thief)),
      401,
      'token_invalid',
      dpopChallenge('invalid_token', 'The DPoP proof key is not the key the token is bound to.'),
    )
  })

  it('refuses a DPoP-bound token sent as a Bearer token', async () => {
    expectProblem(
      await allowed.request('/me', [['Authorization', `Bearer ${bound}`]]),
      401,
      'token_invalid',
      'Bearer realm="api", error="invalid_token", error_description="The token is bound to a DPoP key and needs a DPoP proof."',
    )
    expectProblem(
      await allowed.request('/me', [
        ['Authorization', `Bearer ${bound}`],
        ['DPoP', proof(allowed)],
      ]),
      400,
      'invalid_request',
      'Bearer realm="api", error="invalid_request", error_description="A DPoP proof was sent with the Bearer scheme; use the DPoP scheme."',
    )
  })

  it('refuses an unbound token sent with the DPoP scheme', async () => {
    const p = makeProof(key, { htu: `${originOf(allowed)}/me`, iat: NOW, token: unbound })
    expectProblem(
      await allowed.request('/me', dpop(unbound, p)),
      401,
      'token_invalid',
      dpopChallenge(
        'invalid_token',
        'The token is not bound to a DPoP key: send it with the Bearer scheme.',
      ),
    )
  })

  it('refuses a proof without ath, a missing proof and two DPoP headers', async () => {
    expectProblem(
      await allowed.request('/me', dpop(bound, proof(allowed, { token: undefined }))),
      401,
      'dpop_proof_invalid',
      dpopChallenge('invalid_dpop_proof', 'The DPoP proof has no ath claim.'),
    )
    expectProblem(
      await allowed.request('/me', dpop(bound)),
      401,
      'dpop_proof_invalid',
      dpopChallenge('invalid_dpop_proof', 'The DPoP scheme needs the proof in a DPoP header.'),
    )
    expectProblem(
      await allowed.request('/me', dpop(bound, proof(allowed), proof(allowed))),
      401,
      'dpop_proof_invalid',
      dpopChallenge('invalid_dpop_proof', 'The DPoP header was sent more than once.'),
    )
  })

  it('challenges a request without credentials for Bearer and DPoP, or DPoP alone when required', async () => {
    expectProblem(
      await allowed.request('/me'),
      401,
      'credentials_missing',
      `Bearer realm="api", DPoP realm="api", ${ALGS}`,
    )
    expectProblem(
      await required.request('/me'),
      401,
      'credentials_missing',
      `DPoP realm="api", ${ALGS}`,
    )
  })

  it('with required, refuses Bearer tokens and checks htu against the configured origin', async () => {
    expectProblem(
      await required.request('/me', [['Authorization', `Bearer ${unbound}`]]),
      401,
      'dpop_required',
      dpopChallenge(
        'invalid_token',
        'Only DPoP-bound tokens sent with the DPoP scheme are accepted.',
      ),
    )
    const res = await required.request('/me', dpop(bound, proof(required, {}, PUBLIC_ORIGIN)))
    expect(res.status, res.text).toBe(200)
    expectProblem(
      await required.request('/me', dpop(bound, proof(required))),
      401,
      'dpop_proof_invalid',
      dpopChallenge('invalid_dpop_proof', 'The DPoP proof is for another URI.'),
    )
  })

  it('asks for a server nonce (use_dpop_nonce, DPoP-Nonce) and accepts the proof that carries it', async () => {
    const first = await nonced.request('/me', dpop(bound, proof(nonced)))
    expectProblem(
      first,
      401,
      'dpop_nonce_required',
      dpopChallenge('use_dpop_nonce', 'The DPoP proof must carry the server nonce.'),
    )
    const nonce = first.headers['dpop-nonce'] as string
    expect(nonce).toMatch(/^[A-Za-z0-9_-]{43}$/)
    const res = await nonced.request('/me', dpop(bound, proof(nonced, { nonce })))
    expect(res.status, res.text).toBe(200)
  })

  it('makes one route DPoP-only with requireDpop', async () => {
    const htu = `${originOf(allowed)}/dpop-only`
    const ok = await allowed.request('/dpop-only', dpop(bound, proof(allowed, { htu })))
    expect(ok.status, ok.text).toBe(200)
    expectProblem(
      await allowed.request('/dpop-only', [['Authorization', `Bearer ${unbound}`]]),
      401,
      'dpop_required',
      dpopChallenge(
        'invalid_token',
        'This route accepts only DPoP-bound tokens sent with the DPoP scheme.',
      ),
    )
  })

  it('keeps Bearer tokens working beside DPoP', async () => {
    const res = await allowed.request('/me', [['Authorization', `Bearer ${unbound}`]])
    expect(res.status, res.text).toBe(200)
  })
})
