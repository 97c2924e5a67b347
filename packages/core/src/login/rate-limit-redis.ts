/**
 * The login limiter's counters in Redis, shared by every instance: one Lua script reserves an
 * attempt in every slot at once or refuses it, another settles it; both run by `EVALSHA` (loaded
 * with `EVAL` when Redis does not know them), under a deadline and a breaker. A failure answers
 * `undefined`: the in-memory counters decide instead.
 *
 * A script keeps to one Cluster hash slot. On a Cluster the username's and the address's counters
 * usually live in different slots (a hash tag that put them together would put every login on one
 * slot): each slot's keys are then reserved by one script, the username's first, and when a later
 * one refuses, what was reserved is given back. Meanwhile a concurrent attempt may see one
 * reservation too many and be refused: the error is on the side of refusing.
 */
import { createHash } from 'node:crypto'
import { type CircuitBreaker, CircuitOpenError } from '../infra/circuit-breaker.js'
import { createRedisCall } from '../infra/redis.js'
import { isCluster, keySlot } from '../infra/redis-cluster.js'
import type { RedisClient } from '../peer-types.js'
import type { Outcome, Slot } from './rate-limit-memory.js'

/**
 * KEYS: the slots (username first); ARGV: maxFailures and window ms of each. A hash per slot:
 * `n` failures plus attempts in flight, `p` attempts in flight. Refuses (answers the longest
 * remaining block in ms) when any slot is full, else reserves in all of them and answers 0.
 * A key of another type (a counter of an older version) is dropped.
 */
const RESERVE_SCRIPT = `local blocked = 0
for i, key in ipairs(KEYS) do
  local kind = redis.call('TYPE', key)['ok']
  if kind ~= 'none' and kind ~= 'hash' then redis.call('DEL', key) end
  local n = tonumber(redis.call('HGET', key, 'n') or '0')
  if n >= tonumber(ARGV[2 * i - 1]) then
    local ttl = redis.call('PTTL', key)
    if ttl < 0 then
      ttl = tonumber(ARGV[2 * i])
      redis.call('PEXPIRE', key, ttl)
    end
    if ttl > blocked then blocked = ttl end
  end
end
if blocked > 0 then return blocked end
for i, key in ipairs(KEYS) do
  redis.call('HINCRBY', key, 'n', 1)
  redis.call('HINCRBY', key, 'p', 1)
  if redis.call('PTTL', key) < 0 then redis.call('PEXPIRE', key, ARGV[2 * i]) end
end
return 0`

/**
 * KEYS: the slots of a reservation; ARGV[1]: failed, succeeded or release; ARGV[2]: the position
 * of the username's key in KEYS (0: not among them). Every outcome ends one attempt in flight; a
 * success sets the username's count to the attempts still in flight; a success (other slots) or a
 * release gives the reservation back.
 */
const SETTLE_SCRIPT = `for i, key in ipairs(KEYS) do
  if redis.call('TYPE', key)['ok'] == 'hash' then
    local p = math.max(tonumber(redis.call('HGET', key, 'p') or '0') - 1, 0)
    local n = tonumber(redis.call('HGET', key, 'n') or '0')
    if ARGV[1] == 'succeeded' and i == tonumber(ARGV[2]) then n = p
    elseif ARGV[1] ~= 'failed' then n = math.max(n - 1, 0) end
    redis.call('HSET', key, 'n', n, 'p', p)
  end
end
return 1`

interface Script {
  readonly text: string
  readonly sha: string
}

function script(text: string): Script {
  return { text, sha: createHash('sha1').update(text).digest('hex') }
}

const RESERVE = script(RESERVE_SCRIPT)
const SETTLE = script(SETTLE_SCRIPT)

/** EVALSHA, loading the script with EVAL when Redis does not know it (yet, or after a flush). */
async function evalScript(
  client: RedisClient,
  { text, sha }: Script,
  keys: readonly string[],
  args: readonly (string | number)[],
): Promise<unknown> {
  try {
    return await client.evalsha(sha, keys.length, ...keys, ...args)
  } catch (error) {
    if (!String((error as Error)?.message).startsWith('NOSCRIPT')) throw error
    return client.eval(text, keys.length, ...keys, ...args)
  }
}

export interface RedisCounters {
  /** The longest block in ms (0: reserved in every slot), or `undefined` when Redis failed. */
  reserve(slots: readonly Slot[]): Promise<number | undefined>
  /** Settles a reservation made in Redis (the keys of its slots, username first). */
  settle(keys: readonly string[], outcome: Outcome): Promise<void>
}

/** The positions of `keys` grouped by hash slot, in order of first appearance: one group on a single client. */
function bySlot(client: RedisClient, keys: readonly string[]): number[][] {
  if (!isCluster(client)) return [keys.map((_, i) => i)]
  const groups = new Map<number, number[]>()
  keys.forEach((key, i) => {
    const slot = keySlot(key)
    const group = groups.get(slot)
    if (group === undefined) groups.set(slot, [i])
    else group.push(i)
  })
  return [...groups.values()]
}

/** ARGV of SETTLE for a group of a reservation's keys (the username's key is position 0). */
function settleArgs(group: readonly number[], outcome: Outcome): (string | number)[] {
  return [outcome, group.indexOf(0) + 1]
}

/**
 * Creates the Redis counters over `client` (an ioredis client or Cluster).
 *
 * @example
 * const counters = createRedisCounters(redis, createCircuitBreaker(), 250, () => {})
 * const blockMs = await counters.reserve([{ key, rule }])
 */
export function createRedisCounters(
  client: RedisClient,
  breaker: CircuitBreaker,
  timeoutMs: number,
  onRedisError: ((error: unknown) => void) | undefined,
): RedisCounters {
  const guarded = createRedisCall(client, breaker, timeoutMs)
  /** Runs a script under the deadline and the breaker; undefined when Redis failed. */
  async function run(script: Script, keys: readonly string[], args: readonly (string | number)[]) {
    try {
      return await guarded('EVALSHA', () => evalScript(client, script, keys, args))
    } catch (error) {
      if (!(error instanceof CircuitOpenError)) onRedisError?.(error)
      return undefined
    }
  }
  async function settleGroups(keys: readonly string[], groups: number[][], outcome: Outcome) {
    await Promise.all(
      groups.map((group) =>
        run(
          SETTLE,
          group.map((i) => keys[i]!),
          settleArgs(group, outcome),
        ),
      ),
    )
  }
  return {
    async reserve(slots) {
      const keys = slots.map((slot) => slot.key)
      const reserved: number[][] = []
      for (const group of bySlot(client, keys)) {
        const args = group.flatMap((i) => [
          slots[i]!.rule.maxFailures,
          slots[i]!.rule.windowSeconds * 1000,
        ])
        const answer = await run(
          RESERVE,
          group.map((i) => keys[i]!),
          args,
        )
        const blockMs = answer === undefined ? undefined : Number(answer)
        if (blockMs === 0) {
          reserved.push(group)
          continue
        }
        // refused, or Redis failed: what this attempt reserved in other slots is given back
        if (reserved.length > 0) await settleGroups(keys, reserved, 'release')
        return blockMs === undefined || !Number.isFinite(blockMs) ? undefined : blockMs
      }
      return 0
    },
    async settle(keys, outcome) {
      await settleGroups(keys, bySlot(client, keys), outcome)
    },
  }
}
