import type { AuthError } from './errors.js'
import { PROBLEM_CONTENT_TYPE } from './http.js'

/** An error answer ready for any framework: status, headers and the serialized problem body. */
export interface ErrorResponse {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
}

/**
 * The HTTP answer for an `AuthError`: RFC 6750 `WWW-Authenticate` (or `Retry-After` for 503)
 * and an RFC 9457 `application/problem+json` body, with its `Content-Length` (written with
 * `writeHead`, a body of unknown length would go out chunked).
 *
 * @example
 * const { status, headers, body } = errorResponse(err)
 * res.writeHead(status, headers).end(body)
 */
export function errorResponse(error: AuthError): ErrorResponse {
  const body = JSON.stringify(error.toProblem())
  return {
    status: error.status,
    headers: {
      ...error.headers,
      'content-type': PROBLEM_CONTENT_TYPE,
      'content-length': String(Buffer.byteLength(body)),
      'cache-control': 'no-store',
    },
    body,
  }
}
