/** A token from the command line, or from standard input with `-`. */
import { CommandError } from '../io.js'

export async function readToken(argument: string): Promise<string> {
  if (argument !== '-') return argument.trim()
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of process.stdin) {
    size += (chunk as Buffer).length
    if (size > 1_048_576) throw new CommandError('the token on standard input is over 1 MiB')
    chunks.push(chunk as Buffer)
  }
  const token = Buffer.concat(chunks).toString('utf8').trim()
  if (token === '') throw new CommandError('no token on standard input')
  return token
}
