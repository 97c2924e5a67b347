/** `authframework sign`: a token signed with a private key file. */

import type { KeyObject } from 'node:crypto'
import { parseArgs } from 'node:util'
import { type Algorithm, createSigner, SUPPORTED_ALGORITHMS } from '@authframework/core'
import {
  type Command,
  CommandError,
  HELP,
  parse,
  parseDuration,
  privateKeyFrom,
  readKeyFile,
  UsageError,
} from '../io.js'

/** The algorithm a key signs with by default: RS256 for RSA, the curve's ES*, EdDSA. */
export function defaultAlgorithm(key: KeyObject): Algorithm {
  const type = key.asymmetricKeyType
  if (type === 'rsa') return 'RS256'
  if (type === 'rsa-pss') return 'PS256'
  if (type === 'ed25519') return 'EdDSA'
  if (type === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve
    if (curve === 'prime256v1') return 'ES256'
    if (curve === 'secp384r1') return 'ES384'
    if (curve === 'secp521r1') return 'ES512'
  }
  throw new CommandError(`this key type (${type ?? 'unknown'}) cannot sign JWTs`)
}

export const sign: Command = {
  name: 'sign',
  summary: 'print a token signed with a private key',
  help: `Usage: authframework sign --key <file> --sub <id> [--perms a,b] [--ttl 15m] [--compress]
                          [--alg <alg>] [--iss <issuer>] [--aud <audience>] [--kid <id>]

Prints a signed JWT on stdout.

  --key <file>     private key: PEM or JWK (e.g. private.pem from keygen)
  --sub <id>       the subject (user id)
  --perms a,b      granted permissions, comma-separated (the "perms" claim)
  --ttl <time>     lifetime: 900, 15m, 2h, 1d (default 15m)
  --compress       print the compressed: form when it is shorter
  --alg <alg>      default from the key: RS256 (RSA), ES256/384/512 (EC), EdDSA (Ed25519)
  --iss, --aud     the "iss" and "aud" claims (--aud may be repeated)
  --kid <id>       the "kid" header (default: the key's RFC 7638 thumbprint, as keygen's jwks.json)

Example: authframework sign --key keys/private.pem --sub user-42 --perms orders:read --ttl 1h`,
  async run(args, io) {
    const { values } = parse(
      () =>
        parseArgs({
          args,
          options: {
            ...HELP,
            key: { type: 'string' },
            sub: { type: 'string' },
            perms: { type: 'string' },
            ttl: { type: 'string', default: '15m' },
            compress: { type: 'boolean', default: false },
            alg: { type: 'string' },
            iss: { type: 'string' },
            aud: { type: 'string', multiple: true },
            kid: { type: 'string' },
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
    if (values.key === undefined) throw new UsageError('--key <file> is required')
    if (values.sub === undefined || values.sub === '')
      throw new UsageError('--sub <id> is required')
    const ttlSeconds = parseDuration(values.ttl, '--ttl')
    if (
      values.alg !== undefined &&
      !(SUPPORTED_ALGORITHMS as readonly string[]).includes(values.alg)
    ) {
      throw new UsageError(`--alg: expected one of ${SUPPORTED_ALGORITHMS.join(', ')}`)
    }
    const privateKey = privateKeyFrom(await readKeyFile(values.key), values.key)
    const algorithm = (values.alg as Algorithm | undefined) ?? defaultAlgorithm(privateKey)
    const perms =
      values.perms === undefined
        ? undefined
        : values.perms
            .split(',')
            .map((p) => p.trim())
            .filter((p) => p !== '')
    const aud = values.aud
    let signer: ReturnType<typeof createSigner>
    try {
      signer = createSigner({
        privateKey,
        algorithm,
        issuer: values.iss,
        audience: aud === undefined ? undefined : aud.length === 1 ? aud[0] : aud,
        ttlSeconds,
        keyId: values.kid,
        compressAboveBytes: values.compress ? 0 : false,
      })
    } catch (error) {
      throw new CommandError((error as Error).message.replace(/^createSigner: /, ''))
    }
    const token = signer.sign(
      perms === undefined ? { sub: values.sub } : { sub: values.sub, perms },
    )
    if (values.compress && !token.startsWith('compressed:')) {
      io.err('note: the compressed form is not shorter for this token; printed the plain JWT')
    }
    io.out(token)
    return 0
  },
}
