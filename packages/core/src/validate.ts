/**
 * The validation kit of the core's factories: option checks that run once, at construction, and
 * throw a `TypeError` in one format, naming the factory, the option and a value that works:
 *
 *     <where>: <name> must be <what>, e.g. <example>.
 *
 * Each check takes the value already defaulted (`options.max ?? DEFAULTS.max`) and returns it with
 * its checked type; `where` is the factory a user called (`createRevocationList`), `name` the
 * option as the user writes it (`breaker.openMs`, `layers[2]`). A factory with many options binds
 * `where` once with {@link createValidator}, whose checks also apply defaults.
 */

/** An example value in a message: a number as is, a string as given (quote string literals). */
export type Example = string | number

/**
 * Throws the kit's `TypeError`: `<where>: <name> must be <what>, e.g. <example>.` (without the
 * example when there is none), with `cause` when a library's own error says more. For a check the
 * typed helpers below do not cover.
 *
 * @example
 * if (typeof keyPrefix !== 'string') invalid('createRevocationList', 'keyPrefix', 'a string', "'af:'")
 */
export function invalid(
  where: string,
  name: string,
  what: string,
  example?: Example,
  cause?: unknown,
): never {
  const hint = example === undefined ? '' : `, e.g. ${example}`
  const message = `${where}: ${name} must be ${what}${hint}.`
  throw cause === undefined ? new TypeError(message) : new TypeError(message, { cause })
}

/** A finite number, above 0 (`positive`) or from 0, and an integer when `integer`. */
function checkNumber(
  value: unknown,
  check: { readonly name: string; readonly example: Example; readonly where: string },
  positive: boolean,
  integer: boolean,
): number {
  if (
    typeof value !== 'number' ||
    !Number.isFinite(value) ||
    (positive ? value <= 0 : value < 0) ||
    (integer && !Number.isInteger(value))
  ) {
    const what = `a ${positive ? 'positive' : 'non-negative'} ${integer ? 'integer' : 'number'}`
    invalid(check.where, check.name, what, check.example)
  }
  return value
}

/**
 * An integer of 1 or more.
 *
 * @example
 * const max = positiveInteger(options.max ?? 100_000, 'max', 100_000, 'createRevocationList')
 */
export function positiveInteger(value: unknown, name: string, example: Example, where: string) {
  return checkNumber(value, { name, example, where }, true, true)
}

/**
 * A finite number above 0.
 *
 * @example
 * const timeoutMs = positiveNumber(options.timeoutMs ?? 2000, 'timeoutMs', 2000, 'createPostgresRunner')
 */
export function positiveNumber(value: unknown, name: string, example: Example, where: string) {
  return checkNumber(value, { name, example, where }, true, false)
}

/**
 * A finite number of 0 or more; with `integer`, an integer.
 *
 * @example
 * nonNegative(options.catchUpOverlapSeconds ?? 60, 'catchUpOverlapSeconds', 60, 'createRevocationList', true)
 */
export function nonNegative(
  value: unknown,
  name: string,
  example: Example,
  where: string,
  integer = false,
): number {
  return checkNumber(value, { name, example, where }, false, integer)
}

/**
 * An object (not `null`): typically a factory's options argument.
 *
 * @example
 * plainObject(options, 'options', '{ redis, pool }', 'createRevocationList')
 */
export function plainObject(
  value: unknown,
  name: string,
  example: Example,
  where: string,
): asserts value is object {
  if (typeof value !== 'object' || value === null) invalid(where, name, 'an object', example)
}

/**
 * One of a few literal choices; the message lists them.
 *
 * @example
 * const mode = oneOf(options.mode ?? 'local', 'mode', ['local', 'strict'], 'createRevocationList')
 */
export function oneOf<const T extends string | number | boolean>(
  value: unknown,
  name: string,
  choices: readonly T[],
  where: string,
): T {
  if (!choices.includes(value as T)) {
    const quoted = choices.map((choice) => (typeof choice === 'string' ? `'${choice}'` : choice))
    const what =
      quoted.length === 1
        ? String(quoted[0])
        : `${quoted.slice(0, -1).join(', ')} or ${quoted[quoted.length - 1]}`
    invalid(where, name, what)
  }
  return value as T
}

/**
 * A function; `F` is the type the caller expects (not checked beyond `typeof`).
 *
 * @example
 * const clock = func<Clock>(options.clock ?? Date.now, 'clock', 'Date.now', 'createIntrospector')
 */
export function func<F extends (...args: never[]) => unknown>(
  value: unknown,
  name: string,
  example: Example,
  where: string,
): F {
  if (typeof value !== 'function') invalid(where, name, 'a function', example)
  return value as F
}

/** Hosts `http:` may reach without `allowHttp`: what travels there never leaves the machine. */
const LOOPBACK: ReadonlySet<string> = new Set(['localhost', '127.0.0.1', '[::1]'])

/** How {@link httpsUrl} judges one URL option. */
export interface UrlRules {
  /** `http:` to a host that is not loopback is accepted. */
  readonly allowHttp: boolean
  /** The option that allows it, as the user writes it (`jwks.allowHttp`), and why it is needed. */
  readonly allowHttpHint: string
  /** A URL that works, for every message. */
  readonly example: string
  /** When given: a URL with a user or password is refused, and this says where they go instead. */
  readonly credentials?: string
}

/**
 * An `https:` URL, or `http:` to a loopback host (or with `allowHttp`). The messages never repeat
 * the value: a URL may carry a secret.
 *
 * @example
 * const url = httpsUrl(options.jwksUri, 'jwksUri', 'createAuth', { allowHttp: false, allowHttpHint: 'set jwks.allowHttp', example: "'https://issuer/jwks.json'" })
 */
export function httpsUrl(value: unknown, name: string, where: string, rules: UrlRules): URL {
  const fail = (what: string): never => invalid(where, name, what, rules.example)
  if (typeof value !== 'string') fail('a URL string')
  let url: URL
  try {
    url = new URL(value as string)
  } catch {
    return fail('a valid URL')
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') fail('an https: URL')
  if (url.protocol === 'http:' && !LOOPBACK.has(url.hostname) && !rules.allowHttp) {
    fail(`an https: URL (http: only to localhost, 127.0.0.1 or [::1]; ${rules.allowHttpHint})`)
  }
  if (rules.credentials !== undefined && (url.username !== '' || url.password !== '')) {
    fail(`a URL without credentials (${rules.credentials})`)
  }
  return url
}

/** One factory's checks; `where` prefixes every message (`createAuth`). */
export interface Validator {
  /** Throws `<where>: <name> must <rule>, e.g. <example>.` (`rule` such as `be a string`). */
  fail(name: string, rule: string, example: string): never
  /** A whole number above 0, or `fallback` when `value` is undefined. */
  positiveInteger(name: string, value: unknown, fallback: number, example?: string): number
  /** A finite number, 0 or more, or `fallback` when `value` is undefined. */
  nonNegative(name: string, value: unknown, fallback: number, example?: string): number
  /** `true` or `false`, or `fallback` when `value` is undefined. */
  boolean(name: string, value: unknown, fallback: boolean): boolean
  /** One of `allowed` (the first is the example), or `fallback` when `value` is undefined. */
  oneOf<T extends string>(name: string, value: unknown, allowed: readonly T[], fallback: T): T
  /** A non-empty string, or undefined when `value` is. */
  string(name: string, value: unknown, example: string): string | undefined
  /** A non-empty string or a non-empty array of them, as a set; undefined when `value` is. */
  stringSet(name: string, value: unknown, example: string): ReadonlySet<string> | undefined
  /** A function, or undefined when `value` is. */
  func<F>(name: string, value: F | undefined, example: string): F | undefined
  /** An RFC 6265 cookie name, or undefined when `value` is. */
  cookieName(name: string, value: unknown): string | undefined
}

/**
 * The checks of one factory, all failing in the same format. `prefix` goes before every name, for
 * options nested in a list (`issuers[2].`), so that they fail with the top-level messages.
 *
 * @example
 * const v = createValidator('createAuth')
 * const max = v.positiveInteger('cache.max', options.cache?.max, 10_000)
 */
export function createValidator(where: string, prefix = ''): Validator {
  function fail(name: string, rule: string, example: string): never {
    throw new TypeError(`${where}: ${prefix}${name} must ${rule}, e.g. ${example}.`)
  }
  return {
    fail,
    positiveInteger: (name, value, fallback, example = String(fallback || 1)) =>
      value === undefined ? fallback : positiveInteger(value, prefix + name, example, where),
    nonNegative: (name, value, fallback, example = String(fallback)) =>
      value === undefined ? fallback : nonNegative(value, prefix + name, example, where),
    boolean(name, value, fallback) {
      if (value === undefined) return fallback
      if (typeof value !== 'boolean') fail(name, 'be true or false', String(!fallback))
      return value
    },
    oneOf: (name, value, allowed, fallback) =>
      value === undefined ? fallback : oneOf(value, prefix + name, allowed, where),
    string(name, value, example) {
      if (value === undefined) return undefined
      if (typeof value !== 'string' || value === '') fail(name, 'be a non-empty string', example)
      return value
    },
    stringSet(name, value, example) {
      if (value === undefined) return undefined
      const list = typeof value === 'string' ? [value] : value
      if (
        !Array.isArray(list) ||
        list.length === 0 ||
        list.some((v) => typeof v !== 'string' || v === '')
      ) {
        fail(name, 'be a non-empty string or a non-empty array of non-empty strings', example)
      }
      return new Set<string>(list)
    },
    func(name, value, example) {
      if (value !== undefined) func(value, prefix + name, example, where)
      return value
    },
    cookieName(name, value) {
      if (value === undefined) return undefined
      if (typeof value !== 'string' || !isHttpToken(value)) {
        fail(name, 'be a cookie name (an RFC 7230 token)', "'access_token'")
      }
      return value
    },
  }
}

/** RFC 7230 token (an RFC 6265 cookie-name): visible ASCII without separators. */
export function isHttpToken(value: string): boolean {
  if (value.length === 0) return false
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i)
    if (c <= 0x20 || c >= 0x7f || '()<>@,;:\\"/[]?={}'.includes(value[i]!)) return false
  }
  return true
}

/** The known name closest to a misspelt one (at most a third of its letters off), for a hint. */
export function closestName(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined
  let bestDistance = Math.max(2, Math.floor(name.length / 3)) + 1
  for (const candidate of known) {
    const d = distance(name.toLowerCase(), candidate.toLowerCase())
    if (d < bestDistance) {
      best = candidate
      bestDistance = d
    }
  }
  return best
}

/** Levenshtein distance; options are short, and this runs only on a mistake. */
function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const row = [i]
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      row[j] = Math.min(previous[j]! + 1, row[j - 1]! + 1, previous[j - 1]! + cost)
    }
    previous = row
  }
  return previous[b.length]!
}
