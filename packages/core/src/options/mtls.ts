/** The `mtls` option: checked once, like every other (see resolve.ts). */

import type { ResolvedMtlsOptions } from '../mtls/client-certificate.js'
import { CERTIFICATE_HEADER_FORMATS } from '../mtls/forwarded.js'
import { isHttpToken, type Validator } from '../validate.js'
import type { MtlsOptions } from './types.js'

/** Headers that carry credentials already: a certificate there would be read as both. */
const RESERVED = new Set(['authorization', 'cookie', 'dpop', 'host'])

/**
 * The validated `mtls` option, or `undefined` without one (the TLS connection's certificate).
 *
 * @example
 * mtlsOptions({ certificateHeader: 'Client-Cert' }, v) // { certificateHeader: 'client-cert', headerFormat: 'rfc9440', maxHeaderBytes: 8192 }
 */
export function mtlsOptions(
  options: MtlsOptions | undefined,
  v: Validator,
): ResolvedMtlsOptions | undefined {
  if (options === undefined) return undefined
  if (options === null || typeof options !== 'object') {
    v.fail('mtls', 'be an object', "{ certificateHeader: 'client-cert' }")
  }
  const header = options.certificateHeader
  if (typeof header !== 'string' || !isHttpToken(header) || RESERVED.has(header.toLowerCase())) {
    v.fail(
      'mtls.certificateHeader',
      'be the name of the header your TLS-terminating proxy sets',
      "'client-cert'",
    )
  }
  return Object.freeze({
    certificateHeader: header.toLowerCase(),
    headerFormat: v.oneOf(
      'mtls.headerFormat',
      options.headerFormat,
      CERTIFICATE_HEADER_FORMATS,
      'rfc9440',
    ),
    maxHeaderBytes: v.positiveInteger('mtls.maxHeaderBytes', options.maxHeaderBytes, 8192),
  })
}
