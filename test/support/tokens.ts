import { createHmac, generateKeyPairSync, type KeyObject, sign } from 'node:crypto'
import { deflateRawSync } from 'node:zlib'

/** Test keys, generated per run (never committed). */
export const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
export const publicPem = rsa.publicKey.export({ type: 'spki', format: 'pem' }) as string

export const ISSUER = 'https://issuer.example'
export const AUDIENCE = 'orders-api'
export const NOW = 1_800_000_000 // seconds; the apps run on a fixed clock

const b64 = (value: unknown) =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url')

export interface TokenSpec {
  header?: Record<string, unknown>
  claims?: Record<string, unknown>
  /** Sign with this instead of the RSA private key. */
  hmacSecret?: string | Buffer
  key?: KeyObject
}

/** A signed RS256 token with sensible defaults; every part can be overridden. */
export function token(spec: TokenSpec = {}): string {
  const header = { alg: spec.hmacSecret ? 'HS256' : 'RS256', typ: 'JWT', ...spec.header }
  const claims = {
    sub: 'user-1',
    iss: ISSUER,
    aud: AUDIENCE,
    iat: NOW - 10,
    exp: NOW + 600,
    perms: ['orders:read'],
    ...spec.claims,
  }
  const input = `${b64(header)}.${b64(claims)}`
  const signature = spec.hmacSecret
    ? createHmac('sha256', spec.hmacSecret).update(input).digest()
    : sign('sha256', Buffer.from(input), spec.key ?? rsa.privateKey)
  return `${input}.${signature.toString('base64url')}`
}

/** A token with the given permissions. */
export const withPerms = (...perms: string[]) => token({ claims: { perms } })

export function compress(jwt: string): string {
  return `compressed:${deflateRawSync(jwt).toString('base64url')}`
}

/** An unsigned token (`alg: none`). */
export function unsecured(): string {
  return `${b64({ alg: 'none' })}.${b64({ sub: 'user-1', iss: ISSUER, aud: AUDIENCE, exp: NOW + 600 })}.`
}
