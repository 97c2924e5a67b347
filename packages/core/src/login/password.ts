/**
 * Password hashing: Argon2id (RFC 9106) through `@node-rs/argon2`, stored as a PHC string
 * (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`) so that the parameters travel with each hash
 * and can be raised later: `verify` reports `needsRehash` when a stored hash was made with other
 * parameters than the current ones.
 *
 * Hashing and verification run on libuv's thread pool (the native addon's async API), never on
 * the event loop. `@node-rs/argon2` is an optional peer dependency, loaded on first use.
 */
import { randomBytes } from 'node:crypto'
import { availableParallelism } from 'node:os'
import { invalid, positiveInteger } from '../validate.js'

/** Argon2id cost parameters, as in the PHC string. */
export interface Argon2Params {
  /** Memory in KiB (`m=`). */
  readonly memoryKiB: number
  /** Passes over memory (`t=`). */
  readonly iterations: number
  /** Lanes (`p=`). */
  readonly parallelism: number
}

/**
 * The OWASP Password Storage Cheat Sheet's first Argon2id configuration: 19 MiB of memory, 2
 * iterations, 1 degree of parallelism (`m=19456,t=2,p=1`). Measured on a 2-core x86-64 machine:
 * about 9 ms per hash or verification.
 */
export const OWASP_ARGON2ID: Argon2Params = Object.freeze({
  memoryKiB: 19_456,
  iterations: 2,
  parallelism: 1,
})

/** Longest password accepted, in UTF-8 bytes (after NFKC normalization). */
export const MAX_PASSWORD_BYTES = 1024

/** What {@link PasswordHasher.verify} answers. */
export interface PasswordCheck {
  /** The password matches the hash. */
  readonly ok: boolean
  /** The password matched, but the hash was made with other parameters: store `hash(password)`. */
  readonly needsRehash: boolean
}

export interface PasswordHasherOptions {
  /** Argon2id parameters for new hashes. Default {@link OWASP_ARGON2ID}. */
  readonly params?: Partial<Argon2Params>
  /**
   * Most hash computations at once; the others wait their turn. More than the CPU count only
   * makes every login slower (each one fills its own 19 MiB), and each running one holds one of
   * libuv's 4 pool threads, which DNS lookups and file reads also need. Default: the CPU count
   * (`os.availableParallelism()`), at most 4.
   */
  readonly maxConcurrent?: number
}

/** Hashing and verification with one set of parameters. */
export interface PasswordHasher {
  /** A PHC string of a fresh random salt and `password`. */
  hash(password: string): Promise<string>
  /**
   * Checks `password` against a stored PHC string. With no stored hash (`null` or `undefined`: an
   * unknown user) it verifies against {@link PasswordHasher.dummyHash} and answers `ok: false`,
   * so an unknown user costs the same as a known one. A malformed hash or password answers
   * `ok: false` after the same work. Never rejects for a bad input; rejects only if the
   * Argon2 module cannot be loaded.
   */
  verify(hash: string | null | undefined, password: string): Promise<PasswordCheck>
  /** True when `hash` is not an Argon2id hash with the current parameters. */
  needsRehash(hash: string): boolean
  /**
   * A hash of a random password with the current parameters, verified for unknown users. Made
   * once, when the hasher is created (the first unknown user must not pay for it).
   */
  dummyHash(): Promise<string>
  readonly params: Argon2Params
}

interface Argon2Module {
  hash(password: string | Uint8Array, options?: Record<string, unknown>): Promise<string>
  verify(hashed: string, password: string | Uint8Array): Promise<boolean>
}

let argon2Module: Promise<Argon2Module> | undefined

function loadArgon2(): Promise<Argon2Module> {
  argon2Module ??= import('@node-rs/argon2').then(
    (module) => module as unknown as Argon2Module,
    (error: unknown) => {
      argon2Module = undefined
      throw new TypeError(
        'Password hashing needs the `@node-rs/argon2` package. Add it to your dependencies (npm install @node-rs/argon2).',
        { cause: error },
      )
    },
  )
  return argon2Module
}

/** `Algorithm.Argon2id` of `@node-rs/argon2` (a const enum, so not importable at run time). */
const ARGON2ID = 2

const PHC =
  /^\$argon2id\$v=19\$m=(\d{1,10}),t=(\d{1,10}),p=(\d{1,3})\$[A-Za-z0-9+/]{11,}\$[A-Za-z0-9+/]{16,}$/

/** The parameters of an Argon2id v19 PHC string, or undefined when it is not one. */
export function parseArgon2idHash(hash: string): Argon2Params | undefined {
  if (typeof hash !== 'string' || hash.length > 512) return undefined
  const match = PHC.exec(hash)
  if (match === null) return undefined
  return {
    memoryKiB: Number(match[1]),
    iterations: Number(match[2]),
    parallelism: Number(match[3]),
  }
}

const WHERE = 'createPasswordHasher'

function checkParams(params: Partial<Argon2Params> | undefined): Argon2Params {
  const resolved = { ...OWASP_ARGON2ID, ...params }
  const { memoryKiB, iterations, parallelism } = resolved
  if (!Number.isInteger(parallelism) || parallelism < 1 || parallelism > 255) {
    invalid(WHERE, 'params.parallelism', 'an integer from 1 to 255', 1)
  }
  if (!Number.isInteger(iterations) || iterations < 1 || iterations > 1000) {
    invalid(WHERE, 'params.iterations', 'an integer from 1 to 1000', 2)
  }
  if (!Number.isInteger(memoryKiB) || memoryKiB < 8 * parallelism || memoryKiB > 4_194_304) {
    invalid(WHERE, 'params.memoryKiB', 'an integer of KiB (at least 8 per lane)', 19456)
  }
  return Object.freeze(resolved)
}

/** NFKC (NIST SP 800-63B 5.1.1.2), then UTF-8; undefined for a non-string, empty or too long password. */
function encodePassword(password: unknown): Buffer | undefined {
  if (typeof password !== 'string' || password.length === 0) return undefined
  if (password.length > MAX_PASSWORD_BYTES) return undefined
  const bytes = Buffer.from(password.normalize('NFKC'), 'utf8')
  return bytes.length > MAX_PASSWORD_BYTES ? undefined : bytes
}

/**
 * Creates a hasher with fixed Argon2id parameters, and starts making its dummy hash (for unknown
 * users) at once. Use it to raise the parameters: hashes made with the old ones still verify, and
 * report `needsRehash` until they are replaced.
 *
 * @example
 * const hasher = createPasswordHasher({ params: { memoryKiB: 47_104, iterations: 1 } })
 * const stored = await hasher.hash('correct horse battery staple')
 * const { ok, needsRehash } = await hasher.verify(stored, 'correct horse battery staple')
 */
export function createPasswordHasher(options: PasswordHasherOptions = {}): PasswordHasher {
  const params = checkParams(options.params)
  const maxConcurrent = positiveInteger(
    options.maxConcurrent ?? Math.min(4, availableParallelism()),
    'maxConcurrent',
    2,
    WHERE,
  )
  let running = 0
  const waiting: Array<() => void> = []
  /** Runs `task` when fewer than `maxConcurrent` computations are running. */
  async function limited<T>(task: () => Promise<T>): Promise<T> {
    if (running < maxConcurrent) running += 1
    else await new Promise<void>((resolve) => waiting.push(resolve)) // the slot is handed over
    try {
      return await task()
    } finally {
      const next = waiting.shift()
      if (next === undefined) running -= 1
      else next()
    }
  }
  const argonOptions = {
    algorithm: ARGON2ID,
    memoryCost: params.memoryKiB,
    timeCost: params.iterations,
    parallelism: params.parallelism,
    outputLen: 32,
  }
  let dummy: Promise<string> | undefined

  async function hash(password: string): Promise<string> {
    const bytes = encodePassword(password)
    if (bytes === undefined) {
      throw new TypeError(
        `hashPassword: the password must be a non-empty string of at most ${MAX_PASSWORD_BYTES} bytes.`,
      )
    }
    const argon2 = await loadArgon2()
    return limited(() => argon2.hash(bytes, { ...argonOptions, salt: randomBytes(16) }))
  }

  function dummyHash(): Promise<string> {
    if (dummy === undefined) {
      const made = loadArgon2().then((argon2) =>
        limited(() => argon2.hash(randomBytes(32), { ...argonOptions, salt: randomBytes(16) })),
      )
      dummy = made
      made.catch(() => {
        if (dummy === made) dummy = undefined // tried again on next use
      })
    }
    return dummy
  }
  // Made now, not on the first unknown user (whose answer would take twice as long as the others).
  dummyHash().catch(() => {})

  function needsRehash(stored: string): boolean {
    const found = parseArgon2idHash(stored)
    return (
      found === undefined ||
      found.memoryKiB !== params.memoryKiB ||
      found.iterations !== params.iterations ||
      found.parallelism !== params.parallelism
    )
  }

  return {
    params,
    hash,
    dummyHash,
    needsRehash,
    async verify(stored, password) {
      const argon2 = await loadArgon2()
      const bytes = encodePassword(password)
      const usable = typeof stored === 'string' && parseArgon2idHash(stored) !== undefined
      // Every path runs exactly one Argon2 verification with comparable cost.
      const target = usable ? stored : await dummyHash()
      let ok: boolean
      try {
        ok = await limited(() => argon2.verify(target, bytes ?? randomBytes(16)))
      } catch {
        ok = false
      }
      if (!usable || bytes === undefined || !ok) return { ok: false, needsRehash: false }
      return { ok: true, needsRehash: needsRehash(stored) }
    },
  }
}

let defaultHasher: PasswordHasher | undefined

/** The hasher behind {@link hashPassword} and {@link verifyPassword}: {@link OWASP_ARGON2ID}. */
export function defaultPasswordHasher(): PasswordHasher {
  defaultHasher ??= createPasswordHasher()
  return defaultHasher
}

/**
 * Hashes a password with Argon2id at the OWASP parameters; returns a PHC string to store.
 * Runs off the event loop. Requires the optional peer dependency `@node-rs/argon2`.
 *
 * @example
 * const stored = await hashPassword('correct horse battery staple')
 * // '$argon2id$v=19$m=19456,t=2,p=1$...$...'
 */
export function hashPassword(password: string): Promise<string> {
  return defaultPasswordHasher().hash(password)
}

/**
 * Verifies a password against a stored PHC string (or, for an unknown user, `null`: a dummy
 * hash is verified so that the answer takes the same time). `needsRehash` is true when the
 * password matched but the hash used other parameters than the current ones.
 *
 * @example
 * const { ok, needsRehash } = await verifyPassword(user?.password_hash ?? null, password)
 * if (ok && needsRehash) await save(user.id, await hashPassword(password))
 */
export function verifyPassword(
  hash: string | null | undefined,
  password: string,
): Promise<PasswordCheck> {
  return defaultPasswordHasher().verify(hash, password)
}
