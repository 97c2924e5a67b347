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

/** Claims that have their own option (or are set by the signer): refused in `--claim`. */
const OWN_OPTION: Record<string, string> = {
  sub: '--sub',
  perms: '--perms',
  exp: '--exp or --ttl',
  iat: '--exp or --ttl',
  iss: '--iss',
  aud: '--aud',
}

/** `--claim k=v`: the value as JSON when it parses, else as a string. */
export function parseClaims(pairs: readonly string[]): Record<string, unknown> {
  const claims: Record<string, unknown> = {}
  for (const pair of pairs) {
    const eq = pair.indexOf('=')
    const name = eq === -1 ? '' : pair.slice(0, eq).trim()
    if (name === '') throw new UsageError(`--claim: expected name=value, e.g. tenant=acme`)
    if (OWN_OPTION[name] !== undefined) {
      throw new UsageError(`--claim ${name}: use ${OWN_OPTION[name]}`)
    }
    if (name === '__proto__' || Object.hasOwn(claims, name)) {
      throw new UsageError(`--claim ${name}: given twice`)
    }
    const text = pair.slice(eq + 1)
    let value: unknown = text
    try {
      value = JSON.parse(text)
    } catch {}
    claims[name] = value
  }
  return claims
}

/** `--exp`: seconds since the epoch, or an ISO 8601 date with a time zone. */
export function parseExp(value: string): number {
  if (/^\d{1,12}$/.test(value.trim())) return Number(value.trim())
  const ms = /^\d{4}-\d{2}-\d{2}T.*(Z|[+-]\d{2}:?\d{2})$/.test(value.trim())
    ? Date.parse(value)
    : Number.NaN
  if (Number.isNaN(ms)) {
    throw new UsageError(
      '--exp: expected seconds since the epoch or an ISO date, e.g. 2030-01-01T00:00:00Z',
    )
  }
  return Math.floor(ms / 1000)
}

export const sign: Command = {
  name: 'sign',
  summary: 'print a token signed with a private key',
  help: `Usage: authframework sign --key <file> --sub <id> [--perms a,b] [--ttl 15m | --exp <time>]
                          [--claim k=v ...] [--alg <alg>] [--iss <issuer>] [--aud <audience>]
                          [--kid <id>] [--compress]

Prints a signed JWT on stdout.

  --key <file>     private key: PEM or JWK (e.g. private.pem from keygen)
  --sub <id>       the subject (user id)
  --perms a,b      granted permissions, comma-separated (the "perms" claim)
  --ttl <time>     lifetime: 900, 15m, 2h, 1d (default 15m); negative for an already expired
                   token, to test expiry: --ttl=-5m (with "=", as it starts with a dash)
  --exp <time>     the "exp" claim instead: seconds since the epoch or an ISO date
                   (2030-01-01T00:00:00Z); a past time makes an expired token
  --claim k=v      another claim (repeatable); the value is JSON when it parses (42, true,
                   ["a","b"], {"x":1}), else a string: --claim email=ada@example.com
  --compress       print the compressed: form when it is shorter (read by AuthFramework only)
  --alg <alg>      default from the key: RS256 (RSA), ES256/384/512 (EC), EdDSA (Ed25519)
  --iss, --aud     the "iss" and "aud" claims (--aud may be repeated)
  --kid <id>       the "kid" header (default: the key's RFC 7638 thumbprint, as keygen's jwks.json)

Examples:
  authframework sign --key keys/private.pem --sub user-42 --perms orders:read --ttl 1h
  authframework sign --key keys/private.pem --sub user-42 --ttl=-5m          # expired 5 minutes ago
  authframework sign --key keys/private.pem --sub user-42 --claim tenant=acme --claim admin=true`,
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
            ttl: { type: 'string' },
            exp: { type: 'string' },
            claim: { type: 'string', multiple: true },
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
    if (values.ttl !== undefined && values.exp !== undefined) {
      throw new UsageError('give --ttl or --exp, not both')
    }
    const now = Math.floor(Date.now() / 1000)
    const ttlSeconds =
      values.exp !== undefined
        ? parseExp(values.exp) - now
        : parseDuration(values.ttl ?? '15m', '--ttl', { negative: true })
    const extra = parseClaims(values.claim ?? [])
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
        keyId: values.kid,
        compressAboveBytes: values.compress ? 0 : false,
        // the instant `--exp` was turned into a lifetime: a second that ticks in between must not
        // move the `exp` asked for
        clock: () => now * 1000,
      })
    } catch (error) {
      throw new CommandError((error as Error).message.replace(/^createSigner: /, ''))
    }
    const claims =
      perms === undefined ? { ...extra, sub: values.sub } : { ...extra, sub: values.sub, perms }
    const token = signer.sign(claims, { ttlSeconds })
    if (ttlSeconds <= 0) {
      io.err(`note: this token expired ${-ttlSeconds} seconds ago (for testing expiry)`)
    }
    if (values.compress && !token.startsWith('compressed:')) {
      io.err('note: the compressed form is not shorter for this token; printed the plain JWT')
    }
    io.out(token)
    return 0
  },
}
