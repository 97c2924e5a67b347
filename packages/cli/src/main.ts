/**
 * The `authframework` command line: keygen, sign, inspect, verify, migrate. Errors are one line on
 * stderr (a stack only with `--debug`); exit 0 on success, 1 when the command failed, 2 for a
 * usage mistake.
 */
import { readFileSync } from 'node:fs'
import { inspect } from './commands/inspect.js'
import { keygen } from './commands/keygen.js'
import { migrate } from './commands/migrate.js'
import { sign } from './commands/sign.js'
import { verify } from './commands/verify.js'
import { type Command, CommandError, type Io, UsageError } from './io.js'

export { type Command, CommandError, type Io, UsageError } from './io.js'

const COMMANDS: readonly Command[] = [keygen, sign, inspect, verify, migrate]

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))
    return String(pkg.version)
  } catch {
    return 'unknown'
  }
}

export const USAGE = `Usage: authframework <command> [options]

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(9)} ${c.summary}`).join('\n')}

Options:
  --help, -h   help for authframework or a command (authframework sign --help)
  --version    print the version
  --debug      show the stack trace of an error

Examples:
  authframework keygen --alg ES256 --out ./keys
  authframework sign --key ./keys/private.pem --sub user-42 --perms orders:read --ttl 1h
  authframework inspect <token>
  authframework verify <token> --key ./keys/jwks.json --aud orders-api
  authframework migrate --database-url postgres://postgres@127.0.0.1:5432/app`

/** The process streams. */
export const processIo: Io = {
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
  env: process.env,
}

/**
 * Runs one command line (without `node` and the script) and resolves the exit code.
 *
 * @example
 * process.exitCode = await main(process.argv.slice(2))
 */
export async function main(argv: readonly string[], io: Io = processIo): Promise<number> {
  const debug = argv.includes('--debug')
  // `pnpm start -- <args>` passes the `--` through
  const args = argv.filter((arg) => arg !== '--debug').filter((arg, i) => i > 0 || arg !== '--')
  const [name, ...rest] = args
  try {
    if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
      if (name === undefined) {
        io.err(USAGE)
        return 2
      }
      io.out(USAGE)
      return 0
    }
    if (name === '--version' || name === '-v') {
      io.out(version())
      return 0
    }
    const command = COMMANDS.find((c) => c.name === name)
    if (command === undefined) {
      throw new UsageError(`unknown command ${JSON.stringify(name)}`)
    }
    return await command.run(rest, io)
  } catch (error) {
    if (debug) io.err((error as Error)?.stack ?? String(error))
    if (error instanceof UsageError) {
      const help =
        name !== undefined && COMMANDS.some((c) => c.name === name) ? `${name} --help` : '--help'
      io.err(`authframework: ${error.message} (see authframework ${help})`)
      return 2
    }
    if (!debug) {
      const message = error instanceof CommandError ? error.message : oneLine(error)
      io.err(`authframework: ${message}`)
    }
    return 1
  }
}

/** The first line of an unexpected error's message, with its name when it is not a plain Error. */
function oneLine(error: unknown): string {
  const e = error as Error
  const text = (e?.message ?? String(error)).split('\n')[0]
  return e?.name && e.name !== 'Error' ? `${e.name}: ${text}` : (text ?? 'error')
}
