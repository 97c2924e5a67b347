/**
 * The login limiter's counters in this process: fixed windows in a bounded LRU, reserved and
 * settled synchronously (nothing else runs in between). They answer alone without Redis, and are
 * kept beside Redis so that they can answer while Redis fails.
 */
import { LRUCache } from 'lru-cache'
import type { Clock } from '../types.js'
import type { RateLimitRule } from './rate-limit.js'

/** One counted key (a username or an address group) and its rule. */
export interface Slot {
  readonly key: string
  readonly rule: RateLimitRule
}

/** How an attempt ended: a failure stays counted; a success or a release gives it back. */
export type Outcome = 'failed' | 'succeeded' | 'release'

export interface Counter {
  /** Failures plus attempts in flight. */
  count: number
  /** Attempts in flight. */
  pending: number
  resetAt: number
}

export interface MemoryCounters {
  /**
   * When `enforce`, answers the block in ms if a slot is full; else counts the attempt in every
   * slot and answers its counters.
   */
  reserve(slots: readonly Slot[], enforce: boolean): Counter[] | number
  /** Applies an outcome to the counters an attempt holds (username first). */
  settle(counters: readonly Counter[], outcome: Outcome): void
}

/**
 * Creates the in-memory counters, at most `maxEntries` (least recently used dropped first).
 *
 * @example
 * const counters = createMemoryCounters(100_000, Date.now)
 * const held = counters.reserve([{ key, rule }], true) // a number: blocked for that many ms
 */
export function createMemoryCounters(maxEntries: number, clock: Clock): MemoryCounters {
  const memory = new LRUCache<string, Counter>({ max: maxEntries })

  /** The live counter of a slot (a new one when absent or past its window). */
  function counterOf(slot: Slot, now: number): Counter {
    let counter = memory.get(slot.key)
    if (counter === undefined || counter.resetAt <= now) {
      counter = { count: 0, pending: 0, resetAt: now + slot.rule.windowSeconds * 1000 }
      memory.set(slot.key, counter)
    }
    return counter
  }

  return {
    reserve(slots, enforce) {
      const now = clock()
      if (enforce) {
        let blockMs = 0
        for (const slot of slots) {
          const counter = memory.get(slot.key)
          if (counter !== undefined && counter.resetAt > now) {
            if (counter.count >= slot.rule.maxFailures) {
              blockMs = Math.max(blockMs, counter.resetAt - now)
            }
          }
        }
        if (blockMs > 0) return blockMs
      }
      return slots.map((slot) => {
        const counter = counterOf(slot, now)
        counter.count += 1
        counter.pending += 1
        return counter
      })
    },
    settle(counters, outcome) {
      counters.forEach((counter, i) => {
        counter.pending = Math.max(counter.pending - 1, 0)
        if (outcome === 'succeeded' && i === 0) counter.count = counter.pending
        else if (outcome !== 'failed') counter.count = Math.max(counter.count - 1, 0)
      })
    },
  }
}
