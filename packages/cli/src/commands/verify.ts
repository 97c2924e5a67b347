/** `authframework verify`: the full check `createAuth` does, from the terminal. */
import { parseArgs } from 'node:util'
import {
  type Algorithm,
  type AuthOptions,
  createAuth,
  isAuthError,
  type KeyInput,
  SUPPORTED_ALGORITHMS,
} from '@authframework/core'
import {
  type Command,
  CommandError,
  HELP,
  json,
  parse,
  readKeyFile,
  UsageError,
  verificationKeyFrom,
} from '../io.js'
import { readToken } from './token-input.js'

const ASYMMETRIC = SUPPORTED_ALGORITHMS.filter((alg) => !alg.startsWith('HS'))

export const verify: Command = {
  name: 'verify',
  summary: 'verify a token: print its claims, or the error code and exit 1',
  help: `Usage: authframework verify <token | -> (--key <file> | --jwks <url>) [--iss <issuer>] [--aud <audience>]
                                 [--alg <alg>] [--clock-tolerance <seconds>]

Verifies the signature, the compact form, exp/nbf/iat, and iss/aud when given, exactly as the
middleware does. Prints the claims as JSON and exits 0; on failure prints the error code (such as
token_expired, token_invalid) and exits 1.

  <token>        the token (compact or compressed:), or - to read it from standard input
  --key <file>   public key PEM or JWK, a JWK Set (jwks.json from keygen), or a private key
  --jwks <url>   a JWK Set URL (https:, or http: on loopback)
  --iss, --aud   accepted issuer and audience (each may be repeated)
  --alg <alg>    accepted algorithm (repeatable). Default: what the key allows; RS256 for an RSA
                 PEM; with --jwks every asymmetric algorithm the key types allow`,
  async run(args, io) {
    const { values, positionals } = parse(
      () =>
        parseArgs({
          args,
          options: {
            ...HELP,
            key: { type: 'string' },
            jwks: { type: 'string' },
            iss: { type: 'string', multiple: true },
            aud: { type: 'string', multiple: true },
            alg: { type: 'string', multiple: true },
            'clock-tolerance': { type: 'string' },
          },
          allowPositionals: true,
          strict: true,
        }),
      1,
    )
    if (values.help) {
      io.out(this.help)
      return 0
    }
    if (positionals[0] === undefined) throw new UsageError('give the token to verify (or -)')
    if ((values.key === undefined) === (values.jwks === undefined)) {
      throw new UsageError('give either --key <file> or --jwks <url>')
    }
    for (const alg of values.alg ?? []) {
      if (!(SUPPORTED_ALGORITHMS as readonly string[]).includes(alg)) {
        throw new UsageError(`--alg: expected one of ${SUPPORTED_ALGORITHMS.join(', ')}`)
      }
    }
    const tolerance = values['clock-tolerance']
    if (tolerance !== undefined && !/^\d{1,6}$/.test(tolerance)) {
      throw new UsageError('--clock-tolerance: expected whole seconds')
    }
    const token = await readToken(positionals[0])
    const options: AuthOptions = { cache: false }
    if (values.alg !== undefined) options.algorithms = values.alg as Algorithm[]
    if (values.iss !== undefined) options.issuer = values.iss
    if (values.aud !== undefined) options.audience = values.aud
    if (tolerance !== undefined) options.clockToleranceSeconds = Number(tolerance)
    if (values.key !== undefined) {
      const key = verificationKeyFrom(await readKeyFile(values.key), values.key)
      if ('keys' in key) options.keys = key.keys as KeyInput[]
      else {
        options.publicKey = key.publicKey
        const type = key.publicKey.asymmetricKeyType
        if (options.algorithms === undefined && type === 'rsa') options.algorithms = ['RS256']
      }
    } else {
      options.jwksUri = values.jwks
      options.algorithms ??= ASYMMETRIC
    }
    let auth: ReturnType<typeof createAuth>
    try {
      auth = createAuth(options)
    } catch (error) {
      throw new CommandError((error as Error).message.replace(/^createAuth: /, ''))
    }
    try {
      const context = await auth.verify(token)
      io.out(json(context.claims))
      return 0
    } catch (error) {
      if (!isAuthError(error)) throw error
      io.err(`${error.code}: ${error.message}`)
      return 1
    } finally {
      await auth.close()
    }
  },
}
