/**
 * The `dpop` option (RFC 9449 sender-constrained tokens), checked once with the validation kit.
 */
import { createSecretKey, type KeyObject } from 'node:crypto'
import type { DpopReplayStore } from '../dpop/replay.js'
import { isRedisClient } from '../infra/redis-cluster.js'
import type { RedisClient } from '../peer-types.js'
import type { Algorithm } from '../token/algorithms.js'
import { httpsUrl, type Validator } from '../validate.js'

/** The asymmetric algorithms a DPoP proof may use: never `none`, never HMAC. */
export const DPOP_ALGORITHMS = [
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
  'PS256',
  'PS384',
  'PS512',
  'RS256',
  'RS384',
  'RS512',
] as const satisfies readonly Algorithm[]

export type DpopAlgorithm = (typeof DPOP_ALGORITHMS)[number]

/** The proof algorithms accepted by default. */
export const DEFAULT_DPOP_ALGORITHMS: readonly DpopAlgorithm[] = Object.freeze([
  'ES256',
  'ES384',
  'EdDSA',
  'PS256',
  'RS256',
])

/**
 * Where the `jti` of accepted proofs is remembered: in memory (`max` live entries, default
 * 100 000), in Redis when `client` is given (shared by every instance), or a store of your own
 * (`{ reserve(key, ttlMs) }`: true when the key was new, false for a replay; reject to fail closed).
 */
export type DpopReplayOptions =
  | DpopReplayStore
  | { readonly max?: number }
  | {
      /** An ioredis client or Cluster; never closed here. */
      readonly client: RedisClient
      /** Prefix of the keys. Default `'af:dpop:'`. */
      readonly keyPrefix?: string
      /** Deadline of each Redis call. Default 250. */
      readonly timeoutMs?: number
      /** Circuit breaker: consecutive failures that open it (default 3) and for how long (default 5000 ms). */
      readonly breaker?: { readonly failureThreshold?: number; readonly openMs?: number }
    }

/** The `dpop` option as an object. */
export interface DpopOptions<Req = unknown> {
  /** `allowed` (default): DPoP and Bearer tokens; `required`: DPoP-bound tokens only. */
  readonly mode?: 'allowed' | 'required'
  /** Proof algorithms accepted (asymmetric only). Default ES256, ES384, EdDSA, PS256, RS256. */
  readonly algorithms?: readonly DpopAlgorithm[]
  /** How old a proof's `iat` may be, besides the clock tolerance. Default 60. */
  readonly proofMaxAgeSeconds?: number
  /** Leeway for a proof's `iat`, both sides: the clocks of clients drift. Default 5. */
  readonly clockToleranceSeconds?: number
  /**
   * Server nonces (RFC 9449 section 9): proofs must carry the current nonce, handed out in the
   * `DPoP-Nonce` header of a 401 `use_dpop_nonce`. Stateless: an HMAC of the time step under
   * `secret` (32 bytes or more; the same on every instance); a nonce lives one to two steps.
   */
  readonly nonce?: {
    readonly secret: string | Uint8Array | KeyObject
    /** Default 300. */
    readonly stepSeconds?: number
  }
  /** Where proof `jti`s are remembered: memory by default, Redis for several instances. */
  readonly replay?: DpopReplayOptions
  /**
   * The external origin of this API (`https://api.example`), for the `htu` check behind a proxy.
   * Default: the connection's scheme and the `Host` header (see docs/sender-constrained.md).
   */
  readonly origin?: string
  /** The external URL of a request, when `origin` is not enough (e.g. trusted forwarded headers). */
  readonly url?: (request: Req) => string
}

/** The `dpop` option after validation. */
export interface ResolvedDpop<Req = unknown> {
  readonly mode: 'allowed' | 'required'
  readonly algorithms: ReadonlySet<Algorithm>
  /** The `algs` of the challenge. */
  readonly algs: string
  readonly proofMaxAgeSeconds: number
  readonly clockToleranceSeconds: number
  readonly nonce: { readonly secret: KeyObject; readonly stepSeconds: number } | undefined
  readonly replay:
    | DpopReplayStore
    | { readonly max: number }
    | {
        readonly client: RedisClient
        readonly keyPrefix: string
        readonly timeoutMs: number
        readonly breaker: { readonly failureThreshold?: number; readonly openMs?: number }
      }
  readonly origin: string | undefined
  readonly url: ((request: Req) => string) | undefined
}

const DPOP_KNOWN = new Set([
  'mode',
  'algorithms',
  'proofMaxAgeSeconds',
  'clockToleranceSeconds',
  'nonce',
  'replay',
  'origin',
  'url',
])

function algorithms(v: Validator, value: unknown): readonly DpopAlgorithm[] {
  if (value === undefined) return DEFAULT_DPOP_ALGORITHMS
  const allowed: readonly string[] = DPOP_ALGORITHMS
  if (!Array.isArray(value) || value.length === 0 || value.some((a) => !allowed.includes(a))) {
    v.fail(
      'dpop.algorithms',
      `be a non-empty array of asymmetric algorithms (${DPOP_ALGORITHMS.join(', ')})`,
      "['ES256', 'EdDSA']",
    )
  }
  return value
}

function nonceOption(v: Validator, value: DpopOptions['nonce']): ResolvedDpop['nonce'] {
  if (value === undefined) return undefined
  const secret = value?.secret
  const bytes =
    typeof secret === 'string'
      ? Buffer.from(secret, 'utf8')
      : secret instanceof Uint8Array
        ? secret
        : undefined
  const key = bytes === undefined ? (secret as KeyObject | undefined) : createSecretKey(bytes)
  if (key?.type !== 'secret' || (key.symmetricKeySize ?? 0) < 32) {
    v.fail('dpop.nonce.secret', 'be a secret of 32 bytes or more', 'randomBytes(32)')
  }
  return Object.freeze({
    secret: key,
    stepSeconds: v.positiveInteger('dpop.nonce.stepSeconds', value.stepSeconds, 300),
  })
}

function replayOption(v: Validator, value: DpopReplayOptions | undefined): ResolvedDpop['replay'] {
  if (value === undefined) return Object.freeze({ max: 100_000 })
  if (value === null || typeof value !== 'object')
    v.fail('dpop.replay', 'be an object', '{ client: redis }')
  if ('reserve' in value) {
    if (typeof value.reserve !== 'function') {
      v.fail('dpop.replay.reserve', 'be a function', '(key, ttlMs) => Promise<boolean>')
    }
    return value
  }
  if (!('client' in value)) {
    return Object.freeze({ max: v.positiveInteger('dpop.replay.max', value.max, 100_000) })
  }
  if (!isRedisClient(value.client)) {
    v.fail('dpop.replay.client', 'be an ioredis client or Cluster', 'new Redis(url)')
  }
  const keyPrefix = value.keyPrefix ?? 'af:dpop:'
  if (typeof keyPrefix !== 'string') v.fail('dpop.replay.keyPrefix', 'be a string', "'af:dpop:'")
  const breaker = value.breaker ?? {}
  if (typeof breaker !== 'object' || breaker === null) {
    v.fail('dpop.replay.breaker', 'be an object', '{ failureThreshold: 3, openMs: 5000 }')
  }
  return Object.freeze({
    client: value.client,
    keyPrefix,
    timeoutMs: v.positiveInteger('dpop.replay.timeoutMs', value.timeoutMs, 250),
    breaker: Object.freeze({
      failureThreshold: v.positiveInteger(
        'dpop.replay.breaker.failureThreshold',
        breaker.failureThreshold,
        3,
      ),
      openMs: v.positiveInteger('dpop.replay.breaker.openMs', breaker.openMs, 5000),
    }),
  })
}

function originOption(v: Validator, value: unknown): string | undefined {
  if (value === undefined) return undefined
  const url = httpsUrl(value, 'dpop.origin', 'createAuth', {
    allowHttp: true,
    allowHttpHint: '',
    example: "'https://api.example'",
    credentials: 'an origin has none',
  })
  if (url.pathname !== '/' || url.search !== '' || url.hash !== '') {
    v.fail('dpop.origin', 'be an origin, without path, query or fragment', "'https://api.example'")
  }
  return url.origin
}

/**
 * Checks the `dpop` option: `false` or absent (off), `'allowed'`, `'required'`, or an object.
 *
 * @example
 * resolveDpop(createValidator('createAuth'), 'allowed') // { mode: 'allowed', algorithms, ... }
 */
export function resolveDpop<Req>(
  v: Validator,
  value: false | 'allowed' | 'required' | DpopOptions<Req> | undefined,
): ResolvedDpop<Req> | undefined {
  if (value === undefined || value === false) return undefined
  if (typeof value === 'string' && value !== 'allowed' && value !== 'required') {
    v.fail('dpop', "be false, 'allowed', 'required' or an object", "'allowed'")
  }
  const options: DpopOptions<Req> = typeof value === 'string' ? { mode: value } : value
  if (options === null || typeof options !== 'object') {
    v.fail('dpop', "be false, 'allowed', 'required' or an object", "'allowed'")
  }
  for (const name of Object.keys(options)) {
    if (!DPOP_KNOWN.has(name)) v.fail(`dpop.${name}`, 'be a known DPoP option', 'dpop.replay')
  }
  const algs = algorithms(v, options.algorithms)
  return Object.freeze({
    mode: v.oneOf('dpop.mode', options.mode, ['allowed', 'required'], 'allowed'),
    algorithms: new Set<Algorithm>(algs),
    algs: algs.join(' '),
    proofMaxAgeSeconds: v.positiveInteger(
      'dpop.proofMaxAgeSeconds',
      options.proofMaxAgeSeconds,
      60,
    ),
    clockToleranceSeconds: v.nonNegative(
      'dpop.clockToleranceSeconds',
      options.clockToleranceSeconds,
      5,
    ),
    nonce: nonceOption(v, options.nonce),
    replay: replayOption(v, options.replay),
    origin: originOption(v, options.origin),
    url: v.func('dpop.url', options.url, "(request) => 'https://api.example' + request.url"),
  })
}
