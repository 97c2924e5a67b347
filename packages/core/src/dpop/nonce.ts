/**
 * Stateless server nonces for DPoP proofs (RFC 9449 section 9): the nonce of a time step is an HMAC
 * of the step under a server secret, so every instance that shares the secret issues and accepts
 * the same nonces without shared state. The current and the previous step's nonces are accepted:
 * a nonce lives between one and two steps, and a proof that carries one is at most that old.
 */
import { createHmac, type KeyObject } from 'node:crypto'
import type { Clock } from '../types.js'

export interface DpopNonces {
  /** The nonce to hand out now (the `DPoP-Nonce` header). */
  current(): string
  /** True for the current or the previous step's nonce. */
  accepts(nonce: unknown): boolean
}

/**
 * Creates the nonces of one secret.
 *
 * @example
 * const nonces = createDpopNonces(createSecretKey(randomBytes(32)), 300, Date.now)
 * nonces.accepts(nonces.current()) // true
 */
export function createDpopNonces(secret: KeyObject, stepSeconds: number, clock: Clock): DpopNonces {
  let step = Number.NaN
  let current = ''
  let previous = ''
  const nonceOf = (n: number) =>
    createHmac('sha256', secret).update(`dpop-nonce:${n}`).digest('base64url')
  function refresh(): void {
    const now = Math.floor(clock() / 1000 / stepSeconds)
    if (now === step) return
    previous = now === step + 1 ? current : nonceOf(now - 1)
    current = nonceOf(now)
    step = now
  }
  return {
    current() {
      refresh()
      return current
    },
    accepts(nonce) {
      refresh()
      return typeof nonce === 'string' && (nonce === current || nonce === previous)
    },
  }
}
