/**
 * HTTPS with client certificates for the contract apps: the server side (`startApp(..., { tls })`)
 * asks every client for a certificate and accepts self-signed ones, as RFC 8705 allows; the
 * client side sends requests with or without a certificate, over kept-alive connections.
 */
import { Agent, request } from 'node:https'
import {
  selfSignedCertificate,
  type TestCertificate,
} from '@authframework/test-support/certificates'
import { type Response, readResponse, type ServeOptions } from './contract-routes.js'

const server = selfSignedCertificate('authframework-contract-server')

/** TLS options of a server that asks for client certificates without judging their issuer. */
export const CLIENT_CERTIFICATE_SERVER: ServeOptions = {
  tls: { key: server.key, cert: server.cert, requestCert: true, rejectUnauthorized: false },
}

/**
 * A client that presents `certificate` (none when undefined) and keeps its one connection alive,
 * so that successive requests share it. The server's certificate is self-signed: not checked.
 *
 * @example
 * const agent = clientAgent(selfSignedCertificate('client'))
 * await sendTls(agent, app.port, '/me', [['Authorization', `Bearer ${jwt}`]])
 */
export function clientAgent(certificate: TestCertificate | undefined): Agent {
  return new Agent({
    keepAlive: true,
    maxSockets: 1,
    rejectUnauthorized: false,
    ...(certificate && { key: certificate.key, cert: certificate.cert }),
  })
}

/** A GET over HTTPS through `agent`; `reusedSocket`: whether it went over an earlier connection. */
export function sendTls(
  agent: Agent,
  port: number,
  path: string,
  headers: [string, string][] = [],
): Promise<Response & { reusedSocket: boolean }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, agent, headers: Object.fromEntries(headers) },
      (res) => {
        readResponse(res).then(
          (response) => resolve({ ...response, reusedSocket: req.reusedSocket }),
          reject,
        )
      },
    )
    req.on('error', reject)
    req.end()
  })
}
