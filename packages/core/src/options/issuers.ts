/**
 * The `issuers` option: several issuers (tenants) in one instance, each with its own key source,
 * algorithms and claim rules, listed or found by a resolver. Each entry is checked with the
 * validation kit and the messages of the top-level options, its names prefixed (`issuers[1].`).
 */
import type { ClaimRules } from '../token/claims.js'
import { MAX_ISSUER_LENGTH } from '../token/issuers.js'
import { expectedTyp, type HeaderRules } from '../token/verify.js'
import { createValidator, type Validator } from '../validate.js'
import { checkKeys, type KeySource, type SingleKeySource } from './keys.js'
import { checkNames, claimRules, permissionsClaimOf } from './resolve.js'
import {
  type AuthOptions,
  type IssuerOptions,
  type IssuerResolver,
  PER_ISSUER_OPTIONS,
  type PermissionsClaim,
} from './types.js'

/** One issuer, checked: what its tokens are verified with. Nothing is opened. */
export interface ResolvedIssuer {
  readonly issuer: string
  readonly keys: SingleKeySource
  readonly headerRules: HeaderRules
  readonly claimRules: ClaimRules
  readonly permissionsClaim: PermissionsClaim
}

/** The bounds of a resolver's answers, in milliseconds. */
export interface IssuerCacheBounds {
  readonly max: number
  readonly ttlMs: number
  readonly negativeTtlMs: number
  readonly maxPending: number
}

/** The checked `issuers` option: a list, or a resolver whose answers `check` validates. */
export type IssuerSource =
  | { readonly list: readonly ResolvedIssuer[] }
  | {
      readonly resolve: IssuerResolver
      /** Checks a resolver's answer for `iss`; throws the kit's `TypeError`. */
      readonly check: (answer: unknown, iss: string) => ResolvedIssuer
      readonly cache: IssuerCacheBounds
    }

/** Every name an entry may have. */
const ENTRY_NAMES: readonly string[] = ['issuer', ...PER_ISSUER_OPTIONS]

/** Top-level options that belong to one issuer: with `issuers`, each entry has its own. */
const PER_ISSUER_ONLY: readonly string[] = [
  'secret',
  'publicKey',
  'keys',
  'jwksUri',
  'jwks',
  'algorithms',
  'issuer',
]

/** Top-level claim options an entry inherits when it does not set them: the rest of an entry's. */
const INHERITED = PER_ISSUER_OPTIONS.filter((name) => !PER_ISSUER_ONLY.includes(name))

const EXAMPLE =
  "{ issuer: 'https://a.example', jwksUri: 'https://a.example/jwks', algorithms: ['RS256'] }"

/**
 * Checks one issuer entry. `name` is how messages call it (`issuers[0]`, `issuers() answer`);
 * `defaults` are the inherited top-level claim options.
 */
export function checkIssuer(
  entry: unknown,
  name: string,
  defaults: Partial<IssuerOptions>,
): ResolvedIssuer {
  const top: Validator = createValidator('createAuth')
  if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) {
    top.fail(name, 'be an object', EXAMPLE)
  }
  const v: Validator = createValidator('createAuth', `${name}.`)
  checkNames(entry as object, ENTRY_NAMES, v, EXAMPLE)
  const own = entry as IssuerOptions
  const issuer = v.string('issuer', own.issuer, "'https://a.example'")
  if (issuer === undefined)
    v.fail('issuer', 'be given: it selects the entry', "'https://a.example'")
  if (issuer.length > MAX_ISSUER_LENGTH) {
    v.fail('issuer', `be at most ${MAX_ISSUER_LENGTH} characters long`, "'https://a.example'")
  }
  // a member the entry leaves undefined (`audience: tenant.audience`) keeps the default
  const options = { ...defaults } as IssuerOptions
  for (const [key, value] of Object.entries(own)) {
    if (value !== undefined) (options as unknown as Record<string, unknown>)[key] = value
  }
  const keys = checkKeys(options, v, `${name}.`)
  const typ = v.string('typ', options.typ, "'at+jwt'")
  return Object.freeze({
    issuer,
    keys: keys.source,
    headerRules: Object.freeze({ algorithms: keys.algorithms, typ: expectedTyp(typ) }),
    // the issuer's own `iss`, exactly: the claim check confirms what selected the entry
    claimRules: claimRules({ ...options, issuer }, v),
    permissionsClaim: permissionsClaimOf(options.permissionsClaim, v),
  })
}

/** The `issuerCache` option, in milliseconds. */
function cacheBounds(options: AuthOptions['issuerCache'], v: Validator): IssuerCacheBounds {
  const c = options ?? {}
  if (typeof c !== 'object' || c === null) v.fail('issuerCache', 'be an object', '{ max: 1000 }')
  return Object.freeze({
    max: v.positiveInteger('issuerCache.max', c.max, 1000),
    ttlMs: v.positiveInteger('issuerCache.ttlSeconds', c.ttlSeconds, 300) * 1000,
    negativeTtlMs:
      v.positiveInteger('issuerCache.negativeTtlSeconds', c.negativeTtlSeconds, 60) * 1000,
    maxPending: v.positiveInteger('issuerCache.maxPending', c.maxPending, 32),
  })
}

/**
 * Checks `issuers` (and `issuerCache`): a non-empty list of entries with unique `issuer`s, or a
 * resolver. The top-level key options and `issuer` cannot be given with it; the top-level claim
 * options are every entry's defaults.
 */
export function checkIssuers<Req>(options: AuthOptions<Req>, v: Validator): IssuerSource {
  for (const name of PER_ISSUER_ONLY) {
    if (options[name as keyof AuthOptions] !== undefined) {
      v.fail(
        name,
        'not be set with `issuers`: each issuer has its own keys, algorithms and `issuer`',
        EXAMPLE,
      )
    }
  }
  const defaults: Partial<IssuerOptions> = {}
  for (const name of INHERITED) {
    if (options[name] !== undefined) (defaults as Record<string, unknown>)[name] = options[name]
  }
  const issuers = options.issuers
  if (typeof issuers === 'function') {
    return Object.freeze({
      resolve: issuers,
      check: (answer: unknown, iss: string) => {
        const resolved = checkIssuer(answer, 'issuers() answer', defaults)
        if (resolved.issuer !== iss) {
          createValidator('createAuth').fail(
            'issuers() answer.issuer',
            "equal the `iss` it was asked for (an answer for another issuer would verify that issuer's tokens)",
            'iss',
          )
        }
        return resolved
      },
      cache: cacheBounds(options.issuerCache, v),
    })
  }
  if (!Array.isArray(issuers) || issuers.length === 0) {
    v.fail(
      'issuers',
      'be a non-empty array of issuers or a resolver `(iss) => issuer | undefined`',
      `[${EXAMPLE}]`,
    )
  }
  if (options.issuerCache !== undefined) {
    v.fail(
      'issuerCache',
      'come with an `issuers` resolver (a list needs no cache)',
      'issuers: (iss) => tenants.get(iss)',
    )
  }
  const seen = new Set<string>()
  return Object.freeze({
    list: Object.freeze(
      issuers.map((entry, i) => {
        const resolved = checkIssuer(entry, `issuers[${i}]`, defaults)
        if (seen.has(resolved.issuer)) {
          v.fail(
            `issuers[${i}].issuer`,
            'be unique: another entry has the same issuer',
            "'https://b.example'",
          )
        }
        seen.add(resolved.issuer)
        return resolved
      }),
    ),
  })
}

/**
 * How long after `iat` a token of this instance may still be accepted, for how long revocations
 * must be kept: the instance's tolerance and `maxTokenAgeSeconds`, or with `issuers` the largest
 * of every issuer's (`undefined`, no bound, when one has none, and for a resolver, whose answers
 * are not known in advance).
 */
export function acceptanceWindow(options: {
  readonly claimRules: ClaimRules
  readonly keys: KeySource
}): { toleranceSeconds: number; maxTokenAgeSeconds: number | undefined } {
  const top = options.claimRules
  if (!('issuers' in options.keys)) {
    return { toleranceSeconds: top.toleranceSeconds, maxTokenAgeSeconds: top.maxTokenAgeSeconds }
  }
  const source = options.keys.issuers
  const rules = 'list' in source ? [top, ...source.list.map((issuer) => issuer.claimRules)] : []
  const ages = rules.map((rule) => rule.maxTokenAgeSeconds)
  return {
    toleranceSeconds: Math.max(top.toleranceSeconds, ...rules.map((rule) => rule.toleranceSeconds)),
    maxTokenAgeSeconds:
      ages.length === 0 || ages.includes(undefined) ? undefined : Math.max(...(ages as number[])),
  }
}
