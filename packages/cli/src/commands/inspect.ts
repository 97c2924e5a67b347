/** `authframework inspect`: the header and claims of a token, decoded WITHOUT verification. */
import { parseArgs } from 'node:util'
import { COMPRESSED_PREFIX, decodeCompressed, parseCompact } from '@authframework/core'
import { type Command, CommandError, HELP, json, parse, UsageError } from '../io.js'
import { readToken } from './token-input.js'

/** Inflated tokens larger than this are refused (the library's default cap is 16 KiB). */
const MAX_INFLATED_BYTES = 1_048_576

function decodeSegment(segment: string, what: string): Record<string, unknown> {
  let value: unknown
  try {
    value = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'))
  } catch {
    throw new CommandError(`the ${what} is not base64url JSON`)
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new CommandError(`the ${what} is not a JSON object`)
  }
  return value as Record<string, unknown>
}

function when(seconds: unknown, now: number): string | undefined {
  if (typeof seconds !== 'number' || !Number.isFinite(seconds)) return undefined
  const date = new Date(seconds * 1000).toISOString()
  const delta = Math.round(seconds - now)
  const span = (s: number) =>
    s >= 86_400
      ? `${Math.floor(s / 86_400)}d ${Math.floor((s % 86_400) / 3600)}h`
      : s >= 3600
        ? `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`
        : s >= 60
          ? `${Math.floor(s / 60)}m ${s % 60}s`
          : `${s}s`
  return `${date} (${delta >= 0 ? `in ${span(delta)}` : `${span(-delta)} ago`})`
}

export const inspect: Command = {
  name: 'inspect',
  summary: 'show the header and claims of a token WITHOUT verifying it',
  help: `Usage: authframework inspect <token | -> [--json]

Decodes a token (a compact JWT or a compressed: one) and prints its header and claims.
Nothing is verified: not the signature, the issuer, the audience nor the times.
Use "authframework verify" to check a token.

  <token>   the token, or - to read it from standard input
  --json    print { verified: false, compressed, header, claims } as JSON`,
  async run(args, io) {
    const { values, positionals } = parse(
      () =>
        parseArgs({
          args,
          options: { ...HELP, json: { type: 'boolean', default: false } },
          allowPositionals: true,
          strict: true,
        }),
      1,
    )
    if (values.help) {
      io.out(this.help)
      return 0
    }
    if (positionals[0] === undefined) throw new UsageError('give the token to inspect (or -)')
    const input = await readToken(positionals[0])
    let compact = input
    let compressed: { characters: number; inflatedBytes: number } | undefined
    try {
      if (input.startsWith(COMPRESSED_PREFIX)) {
        compact = decodeCompressed(input, MAX_INFLATED_BYTES)
        compressed = { characters: input.length, inflatedBytes: compact.length }
      }
      parseCompact(compact)
    } catch (error) {
      throw new CommandError(`not a token: ${(error as Error).message}`)
    }
    const [head = '', body = ''] = compact.split('.')
    const header = decodeSegment(head, 'header')
    const claims = decodeSegment(body, 'payload')
    if (values.json) {
      io.out(json({ verified: false, compressed: compressed !== undefined, header, claims }))
      return 0
    }
    const now = Date.now() / 1000
    const lines = [
      'NOT VERIFIED: decoded only. The signature, issuer, audience and times were not checked.',
    ]
    if (compressed !== undefined) {
      lines.push(
        `compressed: ${compressed.characters} characters, inflated to a ${compressed.inflatedBytes}-byte JWT`,
      )
    }
    lines.push(`header: ${json(header)}`, `claims: ${json(claims)}`)
    for (const name of ['iat', 'nbf', 'exp'] as const) {
      const text = when(claims[name], now)
      if (text !== undefined) lines.push(`${name}: ${text}`)
    }
    if (typeof claims.exp === 'number' && claims.exp <= now) lines.push('this token has expired')
    io.out(lines.join('\n'))
    return 0
  },
}
