/**
 * Step-up authentication (RFC 9470): a route guard over the token's `acr` and `auth_time` claims
 * that answers 401 `insufficient_user_authentication` with the `acr_values` and `max_age` the
 * client must ask its authorization server for.
 */
import { CredentialsMissingError, InsufficientUserAuthenticationError } from '../errors.js'
import { isScopeToken } from '../http.js'
import type { AuthContext } from '../types.js'
import { closestName, invalid, plainObject, positiveInteger } from '../validate.js'
import type { Guard, GuardEnvironment } from './guard.js'

/** What `requireAuthentication` asks of the caller's authentication event. */
export interface StepUpOptions {
  /**
   * The `acr` (authentication context class reference) values the route accepts, in order of
   * preference: the token's `acr` claim must be one of them. Sent as `acr_values`.
   */
  readonly acrValues?: readonly string[] | undefined
  /**
   * The most seconds since the user last authenticated actively: the token's `auth_time` claim
   * must be at most this old. Sent as `max_age`.
   */
  readonly maxAgeSeconds?: number | undefined
}

const WHERE = 'requireAuthentication'
const OPTION_NAMES = ['acrValues', 'maxAgeSeconds']
/** For a guard called without an instance (the instance passes its own clock and tolerance). */
const SYSTEM: GuardEnvironment = { clock: Date.now, toleranceSeconds: 0 }
const WEAK = 'A different authentication level is required.'
const OLD = 'More recent authentication is required.'

function checkOptions(options: StepUpOptions): {
  acrValues: readonly string[] | undefined
  maxAge: number | undefined
} {
  plainObject(options, 'options', "{ acrValues: ['mfa'], maxAgeSeconds: 300 }", WHERE)
  for (const name of Object.keys(options)) {
    if (OPTION_NAMES.includes(name)) continue
    // a misspelt requirement would be silently ignored
    invalid(
      WHERE,
      name,
      'a known option',
      closestName(name, OPTION_NAMES) ?? OPTION_NAMES.join(' or '),
    )
  }
  const { acrValues, maxAgeSeconds } = options
  if (acrValues === undefined && maxAgeSeconds === undefined) {
    invalid(WHERE, 'options', 'given acrValues, maxAgeSeconds or both', "{ acrValues: ['mfa'] }")
  }
  if (
    acrValues !== undefined &&
    (!Array.isArray(acrValues) ||
      acrValues.length === 0 ||
      !acrValues.every((v) => typeof v === 'string' && isScopeToken(v)))
  ) {
    // each value goes into a space-separated quoted-string of the challenge
    invalid(
      WHERE,
      'acrValues',
      'a non-empty array of acr values (printable ASCII without spaces, quotes or backslashes)',
      "['urn:example:mfa']",
    )
  }
  const maxAge =
    maxAgeSeconds === undefined
      ? undefined
      : positiveInteger(maxAgeSeconds, 'maxAgeSeconds', 300, WHERE)
  if (maxAge !== undefined && !Number.isSafeInteger(maxAge)) {
    invalid(WHERE, 'maxAgeSeconds', 'a safe integer (a number of seconds)', 300)
  }
  return { acrValues: acrValues && Object.freeze([...new Set(acrValues)]), maxAge }
}

/**
 * Compiles a step-up requirement into a route guard, once per route: the token's `acr` must be one
 * of `acrValues`, and its `auth_time` (seconds) at most `maxAgeSeconds` old and not in the future
 * beyond the instance's clock tolerance. A missing or ill-typed claim is a step-up challenge too:
 * 401 `insufficient_user_authentication` with `acr_values` and `max_age`. Anonymous: 401
 * `credentials_missing`. Throws `TypeError` for bad options.
 *
 * @example
 * const guard = createStepUpGuard({ acrValues: ['mfa'], maxAgeSeconds: 300 })
 * await auth.authorize(guard, req.auth, req)
 */
export function createStepUpGuard<Req = unknown>(
  options: StepUpOptions,
  realm?: string,
): Guard<Req> {
  const { acrValues, maxAge } = checkOptions(options)
  const accepted = acrValues && new Set(acrValues)
  const challenge = (detail: string) =>
    new InsufficientUserAuthenticationError({ acrValues, maxAge }, detail, { realm })
  const guard = (auth: AuthContext | undefined, _request: Req, env = SYSTEM): void => {
    if (auth === undefined) throw new CredentialsMissingError(undefined, { realm })
    const claims = auth.claims as Readonly<Record<string, unknown>>
    if (accepted !== undefined) {
      const acr = claims.acr
      if (typeof acr !== 'string' || !accepted.has(acr)) throw challenge(WEAK)
    }
    if (maxAge !== undefined) {
      const authTime = claims.auth_time
      const now = Math.floor(env.clock() / 1000)
      if (
        typeof authTime !== 'number' ||
        !Number.isFinite(authTime) ||
        authTime > now + env.toleranceSeconds ||
        now - authTime > maxAge
      ) {
        throw challenge(OLD)
      }
    }
  }
  const label = [
    'step-up',
    acrValues && `acr_values=${acrValues.join(' ')}`,
    maxAge !== undefined && `max_age=${maxAge}`,
  ]
  return Object.assign(guard, { label: label.filter(Boolean).join(' ') })
}
