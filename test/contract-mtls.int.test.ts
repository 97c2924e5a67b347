/**
 * Certificate-bound access tokens (RFC 8705) through every adapter: a token whose
 * `cnf["x5t#S256"]` names a client certificate is accepted only over a TLS connection that
 * presented that certificate (from the verification cache too), or, behind a TLS-terminating
 * proxy, with that certificate in the header the `mtls` option names. Every case asserts the
 * status, the problem `code` and the exact `WWW-Authenticate` header.
 */
import type { Agent } from 'node:https'
import { createMetrics } from '@authframework/core'
import { selfSignedCertificate } from '@authframework/test-support/certificates'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ADAPTERS, type AdapterName, baseOptions, type Response, startApp } from './support/apps.js'
import { CLIENT_CERTIFICATE_SERVER, clientAgent, sendTls } from './support/tls.js'
import { token } from './support/tokens.js'

const invalidToken = (description: string) =>
  `Bearer realm="api", error="invalid_token", error_description="${description}"`
const OTHER_CERTIFICATE = invalidToken(
  'The client certificate is not the certificate the token is bound to.',
)
const NO_CERTIFICATE = invalidToken(
  'The token is bound to a client certificate and the request presented none.',
)

const clientA = selfSignedCertificate('contract-client-a')
const clientB = selfSignedCertificate('contract-client-b')
const boundToA = token({ claims: { sub: 'client-a', cnf: { 'x5t#S256': clientA.thumbprint } } })
const plain = token({ claims: { sub: 'plain' } })
const bearer = (jwt: string): [string, string] => ['Authorization', `Bearer ${jwt}`]
const rfc9440 = (der: Buffer) => `:${der.toString('base64')}:`

function refused(response: Response, challenge: string) {
  expect({
    status: response.status,
    code: (response.body as { code?: string }).code,
    challenge: response.headers['www-authenticate'],
  }).toEqual({ status: 401, code: 'token_invalid', challenge })
}

describe.each(ADAPTERS)('certificate-bound tokens over TLS: %s', (adapter: AdapterName) => {
  const metrics = createMetrics()
  const agents: Agent[] = []
  let port: number
  let close: () => Promise<void>
  const agent = (certificate: typeof clientA | undefined) => {
    const made = clientAgent(certificate)
    agents.push(made)
    return made
  }

  beforeAll(async () => {
    const app = await startApp(adapter, { ...baseOptions(), metrics }, CLIENT_CERTIFICATE_SERVER)
    port = app.port
    close = () => app.close()
  })
  afterAll(async () => {
    for (const a of agents) a.destroy()
    await close()
  })

  it('accepts the token from the client whose certificate it is bound to, again from the cache', async () => {
    const a = agent(clientA)
    const first = await sendTls(a, port, '/me', [bearer(boundToA)])
    expect(first.status).toBe(200)
    expect((first.body as { auth: { sub: string } }).auth.sub).toBe('client-a')
    const hits = metrics.snapshot().verificationCache.hits
    const second = await sendTls(a, port, '/me', [bearer(boundToA)])
    expect({ status: second.status, reusedSocket: second.reusedSocket }).toEqual({
      status: 200,
      reusedSocket: true,
    })
    expect(metrics.snapshot().verificationCache.hits).toBe(hits + 1)
  })

  it('refuses it from a client with another certificate, cached or not', async () => {
    refused(await sendTls(agent(clientB), port, '/me', [bearer(boundToA)]), OTHER_CERTIFICATE)
    const fresh = token({ claims: { sub: 'x', cnf: { 'x5t#S256': clientA.thumbprint } } })
    refused(await sendTls(agent(clientB), port, '/me', [bearer(fresh)]), OTHER_CERTIFICATE)
  })

  it('refuses it from a client without a certificate', async () => {
    refused(await sendTls(agent(undefined), port, '/me', [bearer(boundToA)]), NO_CERTIFICATE)
  })

  it('accepts unbound tokens whatever the certificate', async () => {
    expect((await sendTls(agent(clientB), port, '/me', [bearer(plain)])).status).toBe(200)
    expect((await sendTls(agent(undefined), port, '/me', [bearer(plain)])).status).toBe(200)
  })

  it('refuses a token whose thumbprint is malformed', async () => {
    const malformed = token({ claims: { cnf: { 'x5t#S256': `${clientA.thumbprint}=` } } })
    refused(
      await sendTls(agent(clientA), port, '/me', [bearer(malformed)]),
      invalidToken("The cnf claim's x5t#S256 is not a SHA-256 thumbprint."),
    )
  })

  it('does not read a certificate header it was not told to trust', async () => {
    const forged = ['Client-Cert', rfc9440(clientA.der)] as [string, string]
    refused(
      await sendTls(agent(undefined), port, '/me', [bearer(boundToA), forged]),
      NO_CERTIFICATE,
    )
  })
})

describe.each(ADAPTERS)('certificate-bound tokens over plain HTTP: %s', (adapter: AdapterName) => {
  let plainApp: Awaited<ReturnType<typeof startApp>>
  let proxied: Awaited<ReturnType<typeof startApp>>
  let proxiedTls: Awaited<ReturnType<typeof startApp>>
  const mtls = { certificateHeader: 'Client-Cert' }

  beforeAll(async () => {
    ;[plainApp, proxied, proxiedTls] = await Promise.all([
      startApp(adapter, { ...baseOptions() }),
      startApp(adapter, { ...baseOptions(), mtls }),
      startApp(adapter, { ...baseOptions(), mtls }, CLIENT_CERTIFICATE_SERVER),
    ])
  })
  afterAll(async () => {
    await Promise.all([plainApp.close(), proxied.close(), proxiedTls.close()])
  })

  it('refuses a bound token without TLS, and a client-sent header is not trusted', async () => {
    refused(await plainApp.request('/me', [bearer(boundToA)]), NO_CERTIFICATE)
    refused(
      await plainApp.request('/me', [bearer(boundToA), ['Client-Cert', rfc9440(clientA.der)]]),
      NO_CERTIFICATE,
    )
  })

  it('behind a proxy: accepts the token with its certificate in the configured header', async () => {
    const headers = [bearer(boundToA), ['Client-Cert', rfc9440(clientA.der)]] as [string, string][]
    expect((await proxied.request('/me', headers)).status).toBe(200)
    expect((await proxied.request('/me', headers)).status).toBe(200)
  })

  it('behind a proxy: refuses another certificate, none, and a malformed or oversized header', async () => {
    const withHeader = (value: string) =>
      proxied.request('/me', [bearer(boundToA), ['Client-Cert', value]])
    refused(await withHeader(rfc9440(clientB.der)), OTHER_CERTIFICATE)
    refused(await proxied.request('/me', [bearer(boundToA)]), NO_CERTIFICATE)
    refused(
      await withHeader(':bm90IGEgY2VydGlmaWNhdGU=:'),
      invalidToken('The forwarded client certificate is not a DER-encoded certificate.'),
    )
    refused(
      await withHeader('garbage'),
      invalidToken('The forwarded client certificate is not an RFC 9440 byte sequence.'),
    )
    refused(
      await withHeader(`:${'A'.repeat(8192)}:`),
      invalidToken('The forwarded client certificate is longer than 8192 bytes.'),
    )
    // the proxy sets one header: a client's copy beside it is refused, not chosen from
    refused(
      await proxied.request('/me', [
        bearer(boundToA),
        ['Client-Cert', rfc9440(clientA.der)],
        ['Client-Cert', rfc9440(clientB.der)],
      ]),
      invalidToken('The forwarded client certificate is not one header value.'),
    )
  })

  it("behind a proxy: the connection certificate is not consulted (it is the proxy's)", async () => {
    const a = clientAgent(clientA)
    try {
      refused(await sendTls(a, proxiedTls.port, '/me', [bearer(boundToA)]), NO_CERTIFICATE)
      const forwarded = ['Client-Cert', rfc9440(clientA.der)] as [string, string]
      expect((await sendTls(a, proxiedTls.port, '/me', [bearer(boundToA), forwarded])).status).toBe(
        200,
      )
    } finally {
      a.destroy()
    }
  })

  it('leaves plain bearer tokens alone', async () => {
    expect((await proxied.request('/me', [bearer(plain)])).status).toBe(200)
    expect((await plainApp.request('/me', [bearer(plain)])).status).toBe(200)
  })
})
