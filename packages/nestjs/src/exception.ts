import { type AuthError, type ErrorResponse, errorResponse } from '@authframework/core'
import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException } from '@nestjs/common'

/**
 * An authentication or permission failure as a Nest `HttpException`: its response is the problem
 * body, `cause` the `AuthError`, and `answer` the whole HTTP answer (status, `WWW-Authenticate`
 * or `Retry-After`, content type, body) for an exception filter of the application's own.
 */
export class AuthException extends HttpException {
  /** The answer the other adapters send for this error. */
  readonly answer: ErrorResponse
  /** The core error (also `cause`), with its stable `code`. */
  readonly authError: AuthError

  constructor(error: AuthError) {
    super(error.toProblem(), error.status, { cause: error, description: error.code })
    this.answer = errorResponse(error)
    this.authError = error
  }
}

/** The platform response objects the filter writes to: a Fastify reply, or Node's response. */
interface FastifyReplyLike {
  readonly raw: unknown
  code(status: number): { headers(h: Record<string, string>): { send(b: Buffer): unknown } }
}
interface NodeResponseLike {
  writeHead(status: number, headers: Record<string, string>): { end(body: string): unknown }
}

/**
 * Sends an `AuthException` exactly as the other adapters answer: RFC 6750 `WWW-Authenticate` and
 * an RFC 9457 problem body. `AuthModule` installs it unless `errors: 'propagate'`; an application
 * that handles the errors itself can also use it in its own filters.
 *
 * @example
 * app.useGlobalFilters(new AuthExceptionFilter())
 */
export class AuthExceptionFilter implements ExceptionFilter<AuthException> {
  catch(exception: AuthException, host: ArgumentsHost): void {
    const { status, headers, body } = exception.answer
    const res = host.switchToHttp().getResponse<FastifyReplyLike | NodeResponseLike>()
    // a Buffer, so that Fastify sends the content type as is (no charset), like the others
    if ('raw' in res) res.code(status).headers(headers).send(Buffer.from(body))
    else res.writeHead(status, headers).end(body)
  }
}
Catch(AuthException)(AuthExceptionFilter)
