export type MaybePromise<T> = T | Promise<T>

/** True for a promise-like value: the pipeline keeps its synchronous path free of promises. */
export function isPromise<T>(value: MaybePromise<T>): value is Promise<T> {
  return typeof (value as Promise<T> | undefined)?.then === 'function'
}

/** Freezes an object and everything it holds (claims from JSON: plain objects and arrays). */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value)
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        const item: unknown = value[i]
        if (item !== null && typeof item === 'object') deepFreeze(item)
      }
    } else {
      for (const key of Object.keys(value)) {
        const item = (value as Record<string, unknown>)[key]
        if (item !== null && typeof item === 'object') deepFreeze(item)
      }
    }
  }
  return value
}
