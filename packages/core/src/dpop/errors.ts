/** The DPoP failures (RFC 9449 section 7.1), with their codes in the one table of `http.ts`. */
import { AuthError, type Options } from '../errors.js'

/** The DPoP proof is missing, malformed, expired, replayed or for another request (401 `invalid_dpop_proof`). */
export class DpopProofInvalidError extends AuthError {
  declare readonly code: 'dpop_proof_invalid'
  constructor(detail: string, options?: Options) {
    super('dpop_proof_invalid', detail, options)
  }
}

/**
 * The proof lacks the server's current nonce (401 `use_dpop_nonce`, RFC 9449 section 9): the
 * answer carries a fresh one in `DPoP-Nonce` for the client to retry with.
 */
export class DpopNonceRequiredError extends AuthError {
  declare readonly code: 'dpop_nonce_required'
  constructor(
    nonce: string,
    detail = 'The DPoP proof must carry the server nonce.',
    options?: Options,
  ) {
    super('dpop_nonce_required', detail, options)
    this.dpopNonce = nonce
  }
}

/** Only DPoP-bound tokens are accepted here (401, `DPoP` challenge with `invalid_token`). */
export class DpopRequiredError extends AuthError {
  declare readonly code: 'dpop_required'
  constructor(
    detail = 'A DPoP-bound token sent with the DPoP scheme is required.',
    options?: Options,
  ) {
    super('dpop_required', detail, options)
  }
}
