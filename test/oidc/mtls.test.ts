/**
 * Certificate-bound access tokens (RFC 8705) issued by a real authorization server: oidc-provider
 * with its mTLS feature binds the JWT and opaque access tokens of a client to the certificate of
 * the token request (its own thumbprint code), and the API, through each adapter over real TLS,
 * accepts them only from a connection that presents that certificate.
 */
import type { Agent } from 'node:https'
import { discoverAuthOptions } from '@authframework/core'
import { selfSignedCertificate } from '@authframework/test-support/certificates'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ADAPTERS, type RunningApp, startApp } from '../support/apps.js'
import { CLIENT_CERTIFICATE_SERVER, clientAgent, sendTls } from '../support/tls.js'
import {
  API_CLIENT,
  MTLS_CLIENT,
  MTLS_OPAQUE_CLIENT,
  ORDERS,
  type RunningProvider,
  startProvider,
} from './support/provider.js'

const clientA = selfSignedCertificate('oidc-mtls-client-a')
const clientB = selfSignedCertificate('oidc-mtls-client-b')
const OTHER_CERTIFICATE =
  'Bearer realm="api", error="invalid_token", error_description="The client certificate is not the certificate the token is bound to."'

describe.each(ADAPTERS)('%s: certificate-bound tokens from oidc-provider', (adapter) => {
  let provider: RunningProvider
  let app: RunningApp
  const agents: Agent[] = []
  const withCertificate = (certificate: typeof clientA) => {
    const agent = clientAgent(certificate)
    agents.push(agent)
    return agent
  }
  const get = (agent: Agent, token: string) =>
    sendTls(agent, app.port, '/me', [['Authorization', `Bearer ${token}`]])

  beforeAll(async () => {
    provider = await startProvider()
    const discovered = await discoverAuthOptions(provider.issuer, {
      introspection: {
        clientId: API_CLIENT,
        clientSecret: provider.secrets[API_CLIENT]!,
        clientIdAsSubject: true,
      },
    })
    const options = {
      ...discovered,
      algorithms: ['RS256'],
      audience: ORDERS,
      typ: 'at+jwt',
      permissionsClaim: 'scope',
    }
    app = await startApp(adapter, options, CLIENT_CERTIFICATE_SERVER)
  })
  afterAll(async () => {
    for (const agent of agents) agent.destroy()
    await app?.close()
    await provider?.close()
  })

  it('accepts a bound JWT access token from its client certificate only', async () => {
    const token = await provider.token(MTLS_CLIENT, ORDERS, undefined, clientA.cert)
    const payload = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString())
    // the provider's thumbprint of the certificate is the one computed here independently
    expect(payload.cnf).toEqual({ 'x5t#S256': clientA.thumbprint })
    const accepted = await get(withCertificate(clientA), token)
    expect(accepted.status).toBe(200)
    expect(accepted.body).toMatchObject({ auth: { sub: MTLS_CLIENT } })
    const refused = await get(withCertificate(clientB), token)
    expect({
      status: refused.status,
      code: (refused.body as { code: string }).code,
      challenge: refused.headers['www-authenticate'],
    }).toEqual({ status: 401, code: 'token_invalid', challenge: OTHER_CERTIFICATE })
  })

  it('accepts a bound opaque token, introspected, from its client certificate only', async () => {
    const token = await provider.token(MTLS_OPAQUE_CLIENT, ORDERS, undefined, clientA.cert)
    expect(token.split('.')).toHaveLength(1)
    const accepted = await get(withCertificate(clientA), token)
    expect(accepted.status).toBe(200)
    expect(accepted.body).toMatchObject({ auth: { sub: MTLS_OPAQUE_CLIENT } })
    const refused = await get(withCertificate(clientB), token)
    expect({ status: refused.status, challenge: refused.headers['www-authenticate'] }).toEqual({
      status: 401,
      challenge: OTHER_CERTIFICATE,
    })
  })
})
