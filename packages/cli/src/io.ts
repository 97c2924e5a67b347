/** What every command shares: output streams, the two kinds of failure, and key and duration parsing. */
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto'
import { readFile } from 'node:fs/promises'

/** Where a command writes; the process streams, or buffers in tests. */
export interface Io {
  out(text: string): void
  err(text: string): void
  readonly env: NodeJS.ProcessEnv
}

/** A mistake in the command line (exit 2, with a pointer to `--help`). */
export class UsageError extends Error {
  override readonly name = 'UsageError'
}

/** The command ran and failed (exit 1): a bad token, an unreadable key, an unreachable database. */
export class CommandError extends Error {
  override readonly name = 'CommandError'
}

export interface Command {
  readonly name: string
  readonly summary: string
  readonly help: string
  run(args: string[], io: Io): Promise<number>
}

/** The `--help` option of every command. */
export const HELP = { help: { type: 'boolean', short: 'h' } } as const

/**
 * Runs a `parseArgs` call (strict, positionals allowed) and checks the positional count; its
 * errors become {@link UsageError}s.
 */
export function parse<T extends { positionals: string[] }>(
  parseCommandLine: () => T,
  positionals = 0,
): T {
  let parsed: T
  try {
    parsed = parseCommandLine()
  } catch (error) {
    // Node's messages name the option and say what is wrong; keep the first sentence.
    const message = (error as Error).message.split('. ')[0] ?? 'bad arguments'
    throw new UsageError(message.replace(/\.$/, ''))
  }
  if (parsed.positionals.length > positionals) {
    throw new UsageError(`unexpected argument ${JSON.stringify(parsed.positionals[positionals])}`)
  }
  return parsed
}

/** Parses `15m`, `900`, `900s`, `2h`, `1d` into seconds; with `negative`, `-5m` too (a past time). */
export function parseDuration(
  value: string,
  option: string,
  { negative = false }: { negative?: boolean } = {},
): number {
  const match = /^(-?)(\d{1,9})(s|m|h|d)?$/.exec(value.trim())
  if (match === null || (match[1] === '-' && !negative)) {
    throw new UsageError(`${option}: expected a duration such as 900, 15m, 2h or 1d`)
  }
  const unit = { s: 1, m: 60, h: 3600, d: 86_400 }[(match[3] ?? 's') as 's' | 'm' | 'h' | 'd']
  const seconds = Number(match[2]) * unit * (match[1] === '-' ? -1 : 1)
  if (seconds === 0) throw new UsageError(`${option}: must not be 0`)
  if (seconds < 0 && !negative) throw new UsageError(`${option}: must be longer than 0 seconds`)
  return seconds
}

/** Reads a file for a key; the error names the file and the reason, never its content. */
export async function readKeyFile(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    const reason =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EACCES'
          ? 'permission denied'
          : (code ?? 'unreadable')
    throw new CommandError(`cannot read key file ${path}: ${reason}`)
  }
}

/** A private key from PEM (PKCS#8, SEC1, PKCS#1) or a private JWK. */
export function privateKeyFrom(text: string, path: string): KeyObject {
  try {
    const trimmed = text.trim()
    if (trimmed.startsWith('{')) {
      return createPrivateKey({ key: JSON.parse(trimmed), format: 'jwk' })
    }
    return createPrivateKey(trimmed)
  } catch {
    throw new CommandError(`${path} is not a private key (PEM or JWK)`)
  }
}

/** What `verify --key` accepts: a public key (PEM or JWK), a JWK Set, or a private key (its public half is used). */
export function verificationKeyFrom(
  text: string,
  path: string,
): { publicKey: KeyObject } | { keys: Record<string, unknown>[] } {
  const trimmed = text.trim()
  try {
    if (trimmed.startsWith('{')) {
      const json = JSON.parse(trimmed) as { keys?: unknown; d?: unknown }
      if (Array.isArray(json.keys)) return { keys: json.keys as Record<string, unknown>[] }
      const { d: _private, ...rest } = json
      return { publicKey: createPublicKey({ key: rest as never, format: 'jwk' }) }
    }
    if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(trimmed)) {
      return { publicKey: createPublicKey(createPrivateKey(trimmed)) }
    }
    return { publicKey: createPublicKey(trimmed) }
  } catch {
    throw new CommandError(`${path} is not a key (PEM, JWK or JWK Set)`)
  }
}

/** Pretty JSON for the terminal. */
export function json(value: unknown): string {
  return JSON.stringify(value, null, 2)
}
