/** A per-call deadline that never keeps the process alive. */

/** An operation did not finish within its `timeoutMs`. */
export class TimeoutError extends Error {
  override readonly name = 'TimeoutError'
  readonly timeoutMs: number
  constructor(what: string, timeoutMs: number) {
    super(`${what} did not answer within ${timeoutMs} ms.`)
    this.timeoutMs = timeoutMs
  }
}

/**
 * Settles like `promise`, or rejects with a {@link TimeoutError} after `timeoutMs`. The timer is
 * unref'd and cleared as soon as the promise settles. The operation itself is not cancelled: its
 * late result is ignored.
 */
export function withTimeout<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new TimeoutError(what, timeoutMs)), timeoutMs)
    timer.unref()
    promise.then(
      (value) => {
        clearTimeout(timer)
        resolve(value)
      },
      (error: unknown) => {
        clearTimeout(timer)
        reject(error)
      },
    )
  })
}
