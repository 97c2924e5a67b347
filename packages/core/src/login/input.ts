/**
 * What a login keeps of what it is sent: usernames that a store can hold (others are unknown
 * users, never looked up), and the client address as an audit entry can carry it.
 */

/** Longest username looked up, in UTF-16 code units; longer ones fail like unknown users. */
export const MAX_USERNAME_LENGTH = 256

/** C0 and C1 controls (NUL included), DEL, lone surrogates and the noncharacters U+FFFE/U+FFFF. */
const NOT_IN_A_NAME = /[\p{Cc}\p{Cs}\uFFFE\uFFFF]/u

/**
 * True when `username` can be a stored name: 1 to {@link MAX_USERNAME_LENGTH} characters, none of
 * them a control character (NUL included), a lone surrogate or a noncharacter. PostgreSQL refuses
 * NUL in `text`, and a lone surrogate is not UTF-8: such names are unknown users, never looked up.
 *
 * @example
 * isUsableUsername('alice')     // true
 * isUsableUsername('ali\u0000ce') // false: answered like an unknown user
 */
export function isUsableUsername(username: string): boolean {
  return (
    typeof username === 'string' &&
    username.length > 0 &&
    username.length <= MAX_USERNAME_LENGTH &&
    !NOT_IN_A_NAME.test(username)
  )
}

/** Longest client address kept in the audit entry. */
const MAX_AUDITED_ADDRESS = 64

/**
 * The client address as audited: what PostgreSQL's `jsonb` can store (no NUL, no lone surrogate:
 * each character that is not printable becomes U+FFFD) and at most 64 characters.
 */
export function auditedAddress(address: string | undefined): string | undefined {
  if (address === undefined) return undefined
  const printable = address.replace(/[\p{Cc}\p{Cs}\uFFFE\uFFFF]/gu, '\uFFFD')
  const characters = Array.from(printable) // whole code points: never half of a pair
  return characters.length > MAX_AUDITED_ADDRESS
    ? `${characters.slice(0, MAX_AUDITED_ADDRESS).join('')}\u2026`
    : printable
}
