/**
 * The HTTP side of RFC 7662: one POST per token over an undici keep-alive pool, with client
 * authentication, a deadline, no redirects and a bounded response body. Nothing here caches or
 * interprets the answer beyond "a JSON object came back with status 200".
 */
import type { Pool } from 'undici'

/** Extra headers and form parameters that authenticate the API to the authorization server. */
export interface ClientAuthParts {
  readonly headers?: Readonly<Record<string, string>>
  readonly params?: Readonly<Record<string, string>>
}

/**
 * Custom client authentication (`private_key_jwt`, a bearer token, ...): called for every
 * introspection request; what it returns is added to the request. It must not return the token.
 */
export type ClientAuth = () => ClientAuthParts | Promise<ClientAuthParts>

/** Options of {@link createIntrospectionClient}, already validated by `createIntrospector`. */
export interface IntrospectionClientOptions {
  readonly endpoint: URL
  readonly auth: ClientAuth
  readonly tokenTypeHint: string | undefined
  readonly timeoutMs: number
  readonly connectTimeoutMs: number
  readonly requestTimeoutMs: number
  readonly maxConnections: number
  readonly keepAliveTimeoutMs: number
  readonly maxResponseBytes: number
}

/** Why a call to the endpoint failed; the message never contains the token or a secret. */
export class IntrospectionRequestError extends Error {
  override readonly name = 'IntrospectionRequestError'
  readonly reason: 'unreachable' | 'timeout' | 'status' | 'too_large' | 'malformed'
  /** The HTTP status, when the endpoint answered. */
  readonly status: number | undefined
  constructor(
    reason: IntrospectionRequestError['reason'],
    message: string,
    options?: { cause?: unknown; status?: number },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause })
    this.reason = reason
    this.status = options?.status
  }
}

export interface IntrospectionClient {
  /** POSTs the token; resolves the parsed JSON object of a 200 answer, rejects otherwise. */
  post(token: string): Promise<Record<string, unknown>>
  close(): Promise<void>
}

/**
 * `client_secret_basic` (RFC 6749 section 2.3.1): id and secret are form-urlencoded, then joined
 * with `:` and base64-encoded.
 */
export function basicClientAuth(clientId: string, clientSecret: string): ClientAuth {
  const encode = (value: string) => new URLSearchParams([['', value]]).toString().slice(1)
  const header = `Basic ${Buffer.from(`${encode(clientId)}:${encode(clientSecret)}`).toString('base64')}`
  const parts: ClientAuthParts = Object.freeze({
    headers: Object.freeze({ authorization: header }),
  })
  return () => parts
}

/** `client_secret_post`: id and secret as form parameters. */
export function postClientAuth(clientId: string, clientSecret: string): ClientAuth {
  const parts: ClientAuthParts = Object.freeze({
    params: Object.freeze({ client_id: clientId, client_secret: clientSecret }),
  })
  return () => parts
}

/** Reads at most `maxBytes` of a body; more is an error (and the connection is dropped). */
async function readBounded(body: AsyncIterable<Buffer>, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of body) {
    size += chunk.byteLength
    if (size > maxBytes) {
      throw new IntrospectionRequestError(
        'too_large',
        `The introspection response is larger than ${maxBytes} bytes.`,
      )
    }
    chunks.push(chunk)
  }
  return Buffer.concat(chunks, size)
}

function classify(error: unknown, aborted: boolean, timeoutMs: number): IntrospectionRequestError {
  if (error instanceof IntrospectionRequestError) return error
  const code = (error as { code?: unknown } | null)?.code
  if (aborted) {
    return new IntrospectionRequestError(
      'timeout',
      `The introspection endpoint did not answer within ${timeoutMs} ms.`,
      { cause: error },
    )
  }
  if (
    code === 'UND_ERR_CONNECT_TIMEOUT' ||
    code === 'UND_ERR_HEADERS_TIMEOUT' ||
    code === 'UND_ERR_BODY_TIMEOUT'
  ) {
    return new IntrospectionRequestError('timeout', 'The introspection endpoint timed out.', {
      cause: error,
    })
  }
  if (code === 'UND_ERR_RES_EXCEEDED_MAX_SIZE') {
    return new IntrospectionRequestError('too_large', 'The introspection response is too large.', {
      cause: error,
    })
  }
  return new IntrospectionRequestError(
    'unreachable',
    'The introspection endpoint is unreachable.',
    {
      cause: error,
    },
  )
}

/**
 * Creates the client. The undici pool (and undici itself) is loaded on the first request, so an
 * application that never sees an opaque token opens no connection and loads no HTTP client.
 *
 * @example
 * const client = createIntrospectionClient({ endpoint: new URL('https://as.example/introspect'), auth: basicClientAuth('api', secret), ... })
 * const answer = await client.post(token) // { active: true, ... }
 */
export function createIntrospectionClient(
  options: IntrospectionClientOptions,
): IntrospectionClient {
  const { endpoint, auth, tokenTypeHint, timeoutMs, maxResponseBytes } = options
  const path = `${endpoint.pathname}${endpoint.search}`
  let pool: Promise<Pool> | undefined
  let closed = false

  function getPool(): Promise<Pool> {
    pool ??= import('undici').then(
      ({ Pool }) =>
        new Pool(endpoint.origin, {
          connections: options.maxConnections,
          pipelining: 1,
          connectTimeout: options.connectTimeoutMs,
          headersTimeout: options.requestTimeoutMs,
          bodyTimeout: options.requestTimeoutMs,
          keepAliveTimeout: options.keepAliveTimeoutMs,
          // undici checks the declared length and the running total; readBounded checks again
          maxResponseSize: maxResponseBytes,
        }),
    )
    return pool
  }

  async function post(token: string): Promise<Record<string, unknown>> {
    if (closed) throw new IntrospectionRequestError('unreachable', 'The introspector is closed.')
    const signal = AbortSignal.timeout(timeoutMs)
    try {
      const [dispatcher, extra] = await Promise.all([getPool(), auth()])
      const form = new URLSearchParams({ token })
      if (tokenTypeHint !== undefined) form.set('token_type_hint', tokenTypeHint)
      for (const [name, value] of Object.entries(extra.params ?? {})) {
        if (name !== 'token' && name !== 'token_type_hint') form.set(name, value)
      }
      const response = await dispatcher.request({
        method: 'POST',
        path,
        headers: {
          ...extra.headers,
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
        },
        body: form.toString(),
        // no redirect handler: a 3xx is an answer like any other non-200, never followed
        signal,
      })
      const { statusCode, body } = response
      if (statusCode !== 200) {
        // read and drop a small body so that the connection can be reused; a big one closes it
        await body.dump({ limit: maxResponseBytes }).catch(() => {})
        throw new IntrospectionRequestError(
          'status',
          `The introspection endpoint answered ${statusCode}.`,
          { status: statusCode },
        )
      }
      let raw: Buffer
      try {
        raw = await readBounded(body, maxResponseBytes)
      } finally {
        if (!body.destroyed) {
          body.on('error', () => {}) // destroying an unread body emits an abort error
          body.destroy()
        }
      }
      let parsed: unknown
      try {
        parsed = JSON.parse(raw.toString('utf8'))
      } catch (cause) {
        throw new IntrospectionRequestError('malformed', 'The introspection answer is not JSON.', {
          cause,
        })
      }
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
        throw new IntrospectionRequestError(
          'malformed',
          'The introspection answer is not a JSON object.',
        )
      }
      return parsed as Record<string, unknown>
    } catch (error) {
      throw classify(error, signal.aborted, timeoutMs)
    }
  }

  return {
    post,
    async close() {
      closed = true
      const current = pool
      pool = undefined
      if (current !== undefined) await (await current).close()
    },
  }
}
