import { type Algorithm, isAlgorithm, isHmac, SUPPORTED_ALGORITHMS } from '../token/algorithms.js'
import type { RemoteKeySetOptions } from '../token/jwks.js'
import {
  assertKeySet,
  type ImportedKey,
  importKeyInput,
  importPublicKey,
  importSecret,
  type KeyOption,
  toVerifyKey,
  type VerifyKey,
} from '../token/keys.js'
import type { Validator } from '../validate.js'
import type { IssuerSource } from './issuers.js'
import type { AuthOptions } from './types.js'

/**
 * Where JWT signature keys come from, checked: the configured keys (none when only opaque tokens
 * are accepted, through introspection), the options of a remote JWK Set for the composer to
 * open, or several issuers, each with its own (`issuers`).
 */
export type KeySource =
  | { readonly keys: readonly VerifyKey[] }
  | { readonly jwks: RemoteKeySetOptions & { readonly uri: string } }
  | { readonly issuers: IssuerSource }

/** One key source: configured keys or a remote JWK Set (the top-level one, or an issuer's). */
export type SingleKeySource = Exclude<KeySource, { readonly issuers: IssuerSource }>

/** The checked key source and the algorithms it may verify. */
export interface CheckedKeys {
  readonly source: SingleKeySource
  readonly algorithms: ReadonlySet<Algorithm>
}

/** The options `checkKeys` reads: the top-level ones, or one entry of `issuers`. */
type KeyOptions = Pick<
  AuthOptions,
  'secret' | 'publicKey' | 'keys' | 'jwksUri' | 'jwks' | 'algorithms' | 'introspection'
>

/**
 * Checks the key options (`secret`, `publicKey`, `keys`, `jwksUri`/`jwks`) and `algorithms`
 * together: exactly one source, algorithms that fit it. Opens nothing. `prefix` names an entry of
 * `issuers` (`issuers[1].`) in the messages; `v` must carry the same prefix.
 */
export function checkKeys(options: KeyOptions, v: Validator, prefix = ''): CheckedKeys {
  const at = (name: string): KeyOption => ({ where: 'createAuth', name: prefix + name })
  const imported = importKeys(options, v, at)
  const algorithms = resolveAlgorithms(options, imported, v)
  const allowed = new Set<Algorithm>(algorithms)
  if (imported === null) return { source: { keys: [] }, algorithms: allowed } // introspection only
  if (imported === undefined) {
    if (algorithms.some(isHmac)) {
      v.fail('algorithms', 'be asymmetric for a remote key set', "['RS256']")
    }
    const uri = options.jwksUri ?? options.jwks?.uri
    if (typeof uri !== 'string') v.fail('jwksUri', 'be a URL string', "'https://issuer/jwks.json'")
    return { source: { jwks: { ...options.jwks, uri } }, algorithms: allowed }
  }
  const keys = imported.map((key, i) => {
    const name = options.keys ? `keys[${i}]` : options.secret !== undefined ? 'secret' : 'publicKey'
    const ready = toVerifyKey(key, allowed, at(name))
    if (ready === undefined) {
      v.fail(
        options.keys ? `keys[${i}]` : 'algorithms',
        `fit the key: it cannot be used with ${algorithms.join(', ')}`,
        "['RS256'] for an RSA key, ['ES256'] for a P-256 key",
      )
    }
    return ready
  })
  if (keys.some((k) => k.hmac) && !algorithms.every(isHmac)) {
    v.fail('algorithms', 'be HS* only for an HMAC secret', "['HS256']")
  }
  return { source: { keys }, algorithms: allowed }
}

const SOURCES = ['secret', 'publicKey', 'keys', 'jwksUri'] as const

/** The configured keys; `undefined` for a remote JWK Set; `null` when only opaque tokens are accepted. */
function importKeys(
  options: KeyOptions,
  v: Validator,
  at: (name: string) => KeyOption,
): ImportedKey[] | undefined | null {
  const sources: string[] = SOURCES.filter((name) => options[name] !== undefined)
  if (options.jwks?.uri !== undefined && !sources.includes('jwksUri')) sources.push('jwksUri')
  if (sources.length === 0 && options.introspection !== undefined && options.jwks === undefined) {
    return null // every token goes to the introspection endpoint; no JWT is accepted
  }
  if (sources.length !== 1) {
    v.fail(
      'keys',
      'come from exactly one of `secret`, `publicKey`, `keys` or `jwksUri`',
      'publicKey: pem',
    )
  }
  if (options.jwks !== undefined && !sources.includes('jwksUri')) {
    v.fail(
      'jwks',
      'come with `jwksUri` (or `jwks.uri`) as the key source',
      "jwksUri: 'https://issuer/jwks.json'",
    )
  }
  if (options.secret !== undefined) return [importSecret(options.secret, at('secret'))]
  if (options.publicKey !== undefined) return [importPublicKey(options.publicKey, at('publicKey'))]
  if (options.keys !== undefined) {
    if (!Array.isArray(options.keys) || options.keys.length === 0) {
      v.fail('keys', 'be a non-empty array', '[pemA, pemB]')
    }
    const keys = options.keys.map((k, i) => importKeyInput(k, at(`keys[${i}]`)))
    assertKeySet(keys, at('keys'))
    return keys
  }
  return undefined // remote JWK Set
}

function resolveAlgorithms(
  options: KeyOptions,
  keys: ImportedKey[] | undefined | null,
  v: Validator,
): Algorithm[] {
  if (keys === null) {
    if (options.algorithms !== undefined) {
      v.fail('algorithms', 'come with a JWT key source', "publicKey: pem, algorithms: ['RS256']")
    }
    return []
  }
  if (options.algorithms !== undefined) {
    if (!Array.isArray(options.algorithms) || options.algorithms.length === 0) {
      v.fail('algorithms', 'be a non-empty array', "['RS256']")
    }
    for (const alg of options.algorithms) {
      if (!isAlgorithm(alg)) {
        v.fail(
          'algorithms',
          `be supported: ${JSON.stringify(alg)} is not`,
          SUPPORTED_ALGORITHMS.join(', '),
        )
      }
    }
    const hmac = options.algorithms.filter(isHmac).length
    if (hmac !== 0 && hmac !== options.algorithms.length) {
      v.fail(
        'algorithms',
        'not mix HMAC (HS*) and asymmetric algorithms in one instance',
        "['RS256', 'PS256']",
      )
    }
    return [...new Set(options.algorithms)]
  }
  const implied = new Set(
    keys?.map((k) => (k.algorithms.length === 1 ? k.algorithms[0] : undefined)),
  )
  // Ed25519 keys imply both names of the same algorithm
  const ed =
    keys !== undefined &&
    keys.length > 0 &&
    keys.every((k) => k.key.asymmetricKeyType === 'ed25519')
  if (ed) return ['EdDSA', 'Ed25519']
  if (keys === undefined || implied.size !== 1 || implied.has(undefined)) {
    v.fail(
      'algorithms',
      'be given for RSA keys, secrets and remote key sets',
      "algorithms: ['RS256'] or ['HS256']",
    )
  }
  return [...implied] as Algorithm[]
}
