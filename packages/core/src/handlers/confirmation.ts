/**
 * Sender-constrained tokens (RFC 7800 `cnf`). A token whose `cnf` claim binds it to a key is
 * accepted only from a request that proves possession of that key: a DPoP proof signed with it
 * (`jkt`, RFC 9449) or the TLS client certificate it names (`x5t#S256`, RFC 8705). Checked on
 * every request, cached verification or not, because the proof belongs to the request and the
 * token alone proves nothing. A binding this server cannot check refuses the token: accepting it
 * as a plain bearer token would let whoever stole it use it.
 */
import { TokenInvalidError } from '../errors.js'
import { type ClientCertificates, CONNECTION_CERTIFICATES } from '../mtls/client-certificate.js'
import { isCanonicalBase64url } from '../token/base64url.js'
import type { RequestInput } from '../types.js'

/** What the request proved about its sender, beside the token. */
export interface SenderProof {
  /** The JWK SHA-256 thumbprint (RFC 7638) of the key that signed the request's DPoP proof. */
  readonly jkt: string | undefined
}

/** A request that proved nothing beyond carrying the token (a plain Bearer token). */
export const NO_PROOF: SenderProof = Object.freeze({ jkt: undefined })

/** A SHA-256 thumbprint in base64url without padding: 43 characters (RFC 8705 section 3.1). */
function isSha256Thumbprint(value: unknown): value is string {
  return typeof value === 'string' && value.length === 43 && isCanonicalBase64url(value, 0, 43)
}

/**
 * RFC 8705 section 3: the thumbprint of the request's client certificate must be the token's,
 * exactly. The certificate is read only here, for a token bound to one.
 */
function checkCertificate(
  value: unknown,
  input: RequestInput,
  certificates: ClientCertificates,
): void {
  if (!isSha256Thumbprint(value)) {
    throw new TokenInvalidError('The "cnf" claim\'s "x5t#S256" is not a SHA-256 thumbprint.')
  }
  const thumbprint = certificates.thumbprint(input)
  if (thumbprint === undefined) {
    throw new TokenInvalidError(
      'The token is bound to a client certificate and the request presented none.',
    )
  }
  if (thumbprint !== value) {
    throw new TokenInvalidError(
      'The client certificate is not the certificate the token is bound to.',
    )
  }
}

/**
 * Checks a token's `cnf` claim against what the request proved. Returns when every binding it
 * carries holds; throws 401 `token_invalid` otherwise, and for a token without `cnf.jkt` that came
 * with a DPoP proof (RFC 9449 section 7.1: the DPoP scheme is for DPoP-bound tokens).
 * `certificates` says where a request's client certificate comes from (default: its TLS connection).
 *
 * @example
 * checkConfirmation(context.claims.cnf, input, NO_PROOF) // throws for a DPoP-bound token sent as Bearer
 */
export function checkConfirmation(
  cnf: unknown,
  input: RequestInput,
  proof: SenderProof,
  certificates: ClientCertificates = CONNECTION_CERTIFICATES,
): void {
  if (cnf === undefined) throw new TokenInvalidError(NOT_DPOP_BOUND)
  if (cnf === null || typeof cnf !== 'object' || Array.isArray(cnf)) {
    throw new TokenInvalidError('The "cnf" claim is not a JSON object.')
  }
  let methods = 0
  for (const [method, value] of Object.entries(cnf)) {
    methods++
    if (method === 'jkt') {
      if (proof.jkt === undefined) {
        throw new TokenInvalidError('The token is bound to a DPoP key and needs a DPoP proof.')
      }
      if (value !== proof.jkt) {
        throw new TokenInvalidError('The DPoP proof key is not the key the token is bound to.')
      }
    } else if (method === 'x5t#S256') {
      checkCertificate(value, input, certificates)
    } else {
      throw new TokenInvalidError('The token is bound by a confirmation method not supported here.')
    }
  }
  if (methods === 0) throw new TokenInvalidError('The "cnf" claim names no confirmation method.')
  // a proof is sent only with the DPoP scheme, which is for DPoP-bound tokens alone
  if (proof.jkt !== undefined && !Object.hasOwn(cnf, 'jkt'))
    throw new TokenInvalidError(NOT_DPOP_BOUND)
}

const NOT_DPOP_BOUND = 'The token is not bound to a DPoP key: send it with the Bearer scheme.'
