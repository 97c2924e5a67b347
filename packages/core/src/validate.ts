/**
 * The validation kit of the core's factories: option checks that run once, at construction, and
 * throw a `TypeError` in one format, naming the factory, the option and a value that works:
 *
 *     <where>: <name> must be <what>, e.g. <example>.
 *
 * Each check takes the value already defaulted (`options.max ?? DEFAULTS.max`) and returns it with
 * its checked type; `where` is the factory a user called (`createRevocationList`), `name` the
 * option as the user writes it (`breaker.openMs`, `layers[2]`).
 */

/** An example value in a message: a number as is, a string as given (quote string literals). */
export type Example = string | number

/**
 * Throws the kit's `TypeError`: `<where>: <name> must be <what>, e.g. <example>.` (without the
 * example when there is none). For a check the typed helpers below do not cover.
 *
 * @example
 * if (typeof keyPrefix !== 'string') invalid('createRevocationList', 'keyPrefix', 'a string', "'af:'")
 */
export function invalid(where: string, name: string, what: string, example?: Example): never {
  const hint = example === undefined ? '' : `, e.g. ${example}`
  throw new TypeError(`${where}: ${name} must be ${what}${hint}.`)
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
