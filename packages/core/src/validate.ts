/**
 * The validation kit for options checked once at construction. Every mistake is a `TypeError` in
 * one format, naming the option, the rule and an example of a good value:
 * `createAuth: cache.max must be a positive integer, e.g. 10000`.
 */

/** One factory's checks; `where` prefixes every message (`createAuth`). */
export interface Validator {
  /** Throws `<where>: <name> must <rule>, e.g. <example>`. */
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
 * The checks of one factory, all failing in the same format.
 *
 * @example
 * const v = createValidator('createAuth')
 * const max = v.positiveInteger('cache.max', options.cache?.max, 10_000)
 */
export function createValidator(where: string): Validator {
  function fail(name: string, rule: string, example: string): never {
    throw new TypeError(`${where}: ${name} must ${rule}, e.g. ${example}`)
  }
  return {
    fail,
    positiveInteger(name, value, fallback, example = String(fallback || 1)) {
      if (value === undefined) return fallback
      if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
        fail(name, 'be a positive integer', example)
      }
      return value
    },
    nonNegative(name, value, fallback, example = String(fallback)) {
      if (value === undefined) return fallback
      if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
        fail(name, 'be a number, 0 or more', example)
      }
      return value
    },
    boolean(name, value, fallback) {
      if (value === undefined) return fallback
      if (typeof value !== 'boolean') fail(name, 'be true or false', String(!fallback))
      return value
    },
    oneOf(name, value, allowed, fallback) {
      if (value === undefined) return fallback
      if (!allowed.includes(value as never)) {
        const names = allowed.map((a) => JSON.stringify(a))
        fail(name, `be ${names.slice(0, -1).join(', ')} or ${names.at(-1)}`, names[0]!)
      }
      return value as (typeof allowed)[number]
    },
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
      if (value !== undefined && typeof value !== 'function') fail(name, 'be a function', example)
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
