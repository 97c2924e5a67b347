/**
 * Shared fixtures of the core unit tests: keys generated at test time, a fake clock, and token
 * builders (jose's `SignJWT` for well-formed tokens, a hand signer for crafted ones).
 */
import {
  constants,
  createHmac,
  createPrivateKey,
  sign as cryptoSign,
  generateKeyPairSync,
  type KeyObject,
} from 'node:crypto'
import { type JWTPayload, SignJWT } from 'jose'
import { type AuthError, isAuthError } from '../src/index.js'

/** A fixed "now": 2023-11-14T22:13:20Z, in seconds and in milliseconds. */
export const NOW_S = 1_700_000_000
export const NOW_MS = NOW_S * 1000

export const ISSUER = 'https://issuer.example'
export const AUDIENCE = 'orders-api'

/** A clock the test moves by hand. */
export function fakeClock(startMs = NOW_MS) {
  let now = startMs
  return {
    clock: () => now,
    set(ms: number) {
      now = ms
    },
    advanceSeconds(seconds: number) {
      now += seconds * 1000
    },
  }
}

export interface KeyPair {
  readonly privateKey: KeyObject
  readonly publicKey: KeyObject
  readonly publicPem: string
}

function pair(keys: { privateKey: KeyObject; publicKey: KeyObject }): KeyPair {
  return {
    privateKey: keys.privateKey,
    publicKey: keys.publicKey,
    publicPem: keys.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  }
}

export function rsaKeyPair(modulusLength = 2048): KeyPair {
  return pair(generateKeyPairSync('rsa', { modulusLength }))
}

export function ecKeyPair(namedCurve: 'P-256' | 'P-384' | 'P-521' = 'P-256'): KeyPair {
  return pair(generateKeyPairSync('ec', { namedCurve }))
}

export function ed25519KeyPair(): KeyPair {
  return pair(generateKeyPairSync('ed25519'))
}

/** base64url of a string, bytes or a JSON value. */
export function b64u(value: string | Uint8Array | object): string {
  if (typeof value === 'string') return Buffer.from(value, 'utf8').toString('base64url')
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64url')
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url')
}

/** Standard claims valid at `NOW_S`, merged with `extra` (an `undefined` value removes a claim). */
export function claims(extra: Record<string, unknown> = {}): JWTPayload {
  const base: Record<string, unknown> = {
    sub: 'user-1',
    iss: ISSUER,
    aud: AUDIENCE,
    iat: NOW_S - 10,
    exp: NOW_S + 600,
    ...extra,
  }
  for (const key of Object.keys(base)) if (base[key] === undefined) delete base[key]
  return base as JWTPayload
}

/** Signs with jose: the reference for well-formed tokens. */
export async function signJwt(
  payload: JWTPayload,
  key: KeyObject | Uint8Array,
  header: { alg: string; kid?: string; typ?: string; [name: string]: unknown } = { alg: 'RS256' },
): Promise<string> {
  return new SignJWT(payload).setProtectedHeader(header).sign(key)
}

const HASHES: Record<string, string> = { '256': 'sha256', '384': 'sha384', '512': 'sha512' }

/** The raw JWS signature of `input` with `alg` (RS*, PS*, ES*, HS*, EdDSA). */
export function rawSignature(
  alg: string,
  key: KeyObject | Uint8Array | string,
  input: string,
): Buffer {
  const data = Buffer.from(input, 'latin1')
  const hash = HASHES[alg.slice(2)]
  if (alg.startsWith('HS'))
    return createHmac(hash!, key as Uint8Array | string)
      .update(data)
      .digest()
  if (alg === 'EdDSA' || alg === 'Ed25519') return cryptoSign(null, data, key as KeyObject)
  const privateKey =
    key instanceof Uint8Array || typeof key === 'string'
      ? createPrivateKey(typeof key === 'string' ? key : Buffer.from(key))
      : key
  if (alg.startsWith('RS')) return cryptoSign(hash!, data, privateKey)
  if (alg.startsWith('PS')) {
    return cryptoSign(hash!, data, {
      key: privateKey,
      padding: constants.RSA_PKCS1_PSS_PADDING,
      saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
    })
  }
  return cryptoSign(hash!, data, { key: privateKey, dsaEncoding: 'ieee-p1363' })
}

/**
 * Builds a compact JWS by hand, for headers jose refuses to produce (`crit`, `b64`, a wrongly
 * cased `alg`, a numeric `kid`) and for crafted payloads (raw JSON text).
 */
export function handSign(
  header: Record<string, unknown> | string,
  payload: Record<string, unknown> | string,
  alg: string,
  key: KeyObject | Uint8Array | string,
): string {
  const input = `${b64u(header)}.${b64u(payload)}`
  return `${input}.${rawSignature(alg, key, input).toString('base64url')}`
}

/** Runs `fn` and returns the `AuthError` it threw or rejected with; fails if it succeeded. */
export async function authErrorOf(fn: () => unknown): Promise<AuthError> {
  let outcome: unknown
  try {
    await fn()
  } catch (error) {
    outcome = error
    if (isAuthError(error)) return error
  }
  throw new Error(
    `expected an AuthError, got ${outcome === undefined ? 'success' : String(outcome)}`,
  )
}

/** What every failure test asserts: the code, the status and the exact challenge. */
export function summary(error: AuthError) {
  return {
    code: error.code,
    status: error.status,
    'www-authenticate': error.headers['www-authenticate'],
  }
}

export const INVALID_TOKEN_CHALLENGE = (description: string) =>
  `Bearer realm="api", error="invalid_token", error_description="${description}"`
