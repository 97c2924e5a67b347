/** `authframework keygen`: a private key (PEM, mode 0600) and the public JWK Set that verifies it. */

import { chmod, mkdir, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { createSigner, generateSigningKey, KEYGEN_ALGORITHMS } from '@authframework/core'
import { type Command, CommandError, HELP, parse, UsageError } from '../io.js'

const ALGORITHMS = KEYGEN_ALGORITHMS
type KeygenAlgorithm = (typeof ALGORITHMS)[number]

async function writeNew(path: string, content: string, mode: number, force: boolean) {
  try {
    await writeFile(path, content, { mode, flag: force ? 'w' : 'wx' })
    await chmod(path, mode) // a replaced file keeps its old mode otherwise
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'EEXIST') throw new CommandError(`${path} exists; use --force to replace it`)
    throw new CommandError(`cannot write ${path}: ${code ?? 'error'}`)
  }
}

export const keygen: Command = {
  name: 'keygen',
  summary: 'create a signing key pair: private.pem and jwks.json',
  help: `Usage: authframework keygen --alg <alg> [--out <dir>] [--kid <id>] [--force]

Creates a private key and the public JWK Set that verifies its tokens.

  --alg <alg>   ${ALGORITHMS.join(', ')} (default ES256)
  --out <dir>   where to write private.pem (mode 0600) and jwks.json (default: .)
  --kid <id>    the key id (default: the RFC 7638 thumbprint of the public key)
  --force       replace existing files

Serve jwks.json at /.well-known/jwks.json; keep private.pem secret and out of version control
(add it to .gitignore).
Example: authframework keygen --alg ES256 --out ./keys`,
  async run(args, io) {
    const { values } = parse(
      () =>
        parseArgs({
          args,
          options: {
            ...HELP,
            alg: { type: 'string', default: 'ES256' },
            out: { type: 'string', default: '.' },
            kid: { type: 'string' },
            force: { type: 'boolean', default: false },
          },
          allowPositionals: true,
          strict: true,
        }),
      0,
    )
    if (values.help) {
      io.out(this.help)
      return 0
    }
    const alg = values.alg as KeygenAlgorithm
    if (!ALGORITHMS.includes(alg)) {
      throw new UsageError(`--alg: expected one of ${ALGORITHMS.join(', ')}`)
    }
    const dir = resolve(values.out)
    await mkdir(dir, { recursive: true }).catch((error: NodeJS.ErrnoException) => {
      throw new CommandError(`cannot create ${dir}: ${error.code ?? 'error'}`)
    })
    const privateKey = generateSigningKey(alg)
    const signer = createSigner({ privateKey, algorithm: alg, keyId: values.kid })
    const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }) as string
    const keyPath = join(dir, 'private.pem')
    const jwksPath = join(dir, 'jwks.json')
    await writeNew(keyPath, pem, 0o600, values.force)
    await writeNew(
      jwksPath,
      `${JSON.stringify(signer.exportJwks(), null, 2)}\n`,
      0o644,
      values.force,
    )
    io.out(`${alg} key ${signer.keyId}
  private key: ${keyPath} (mode 0600, keep it secret; never commit it)
  public JWK Set: ${jwksPath}`)
    return 0
  },
}
