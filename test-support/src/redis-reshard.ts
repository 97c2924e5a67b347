/**
 * Moves hash slots between the masters of a local Redis Cluster the way `redis-cli --cluster
 * reshard` does (`CLUSTER SETSLOT ... IMPORTING` / `MIGRATING`, `MIGRATE` of the slot's keys, then
 * `SETSLOT ... NODE` on every master), in steps a test can interleave with its own traffic: while a
 * slot is half moved, a read of its keys meets `ASK` and multi-key reads meet `TRYAGAIN`.
 */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { Redis } from 'ioredis'
import type { ClusterNode } from './redis-cluster.js'

const run = promisify(execFile)

/** One command to one node, on a short-lived connection. */
async function command(node: ClusterNode, ...args: string[]): Promise<unknown> {
  const client = new Redis(node.port, node.host, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: 2000,
    commandTimeout: 10_000,
    retryStrategy: () => null,
  })
  client.on('error', () => {})
  try {
    await client.connect()
    return await client.call(args[0]!, ...args.slice(1))
  } finally {
    client.disconnect()
  }
}

/** The cluster id of a node. */
export async function nodeId(node: ClusterNode): Promise<string> {
  return String(await command(node, 'CLUSTER', 'MYID'))
}

/** The keys a node holds in `slot` (up to 1000: the tests keep far fewer). */
export async function keysInSlot(node: ClusterNode, slot: number): Promise<string[]> {
  return (await command(node, 'CLUSTER', 'GETKEYSINSLOT', String(slot), '1000')) as string[]
}

/** The keys of a node whose names start with `prefix` (SCAN, so that the node keeps serving). */
export async function keysWithPrefix(node: ClusterNode, prefix: string): Promise<string[]> {
  const keys: string[] = []
  let cursor = '0'
  do {
    const [next, page] = (await command(
      node,
      'SCAN',
      cursor,
      'MATCH',
      `${prefix}*`,
      'COUNT',
      '1000',
    )) as [string, string[]]
    keys.push(...page)
    cursor = next
  } while (cursor !== '0')
  return keys
}

export interface SlotMove {
  /**
   * Moves `share` (0–1) of each slot's keys still on the source to the target (rounded down; of
   * the slots with one key, every other one's): resolves how many moved.
   */
  migrate(share: number): Promise<number>
  /** Moves these keys (of the slots being moved) to the target. */
  migrateKeys(keys: readonly string[]): Promise<void>
  /** Moves the remaining keys and gives the slots to the target on every master. */
  finish(): Promise<void>
}

/**
 * Marks `slots` (all served by `from`) as migrating from `from` to `to`, and returns the steps that
 * move their keys and complete the move.
 *
 * @example
 * const move = await beginSlotMove([from, to, other], [slot], from, to)
 * await move.migrate(0.5)
 * await move.finish()
 */
export async function beginSlotMove(
  masters: readonly ClusterNode[],
  slots: readonly number[],
  from: ClusterNode,
  to: ClusterNode,
): Promise<SlotMove> {
  const [fromId, toId] = await Promise.all([nodeId(from), nodeId(to)])
  for (const slot of slots) {
    // the target first: from then on the source's ASK redirections are accepted there
    await command(to, 'CLUSTER', 'SETSLOT', String(slot), 'IMPORTING', fromId)
    await command(from, 'CLUSTER', 'SETSLOT', String(slot), 'MIGRATING', toId)
  }
  const migrate = async (share: number): Promise<number> => {
    let moved = 0
    for (const [n, slot] of slots.entries()) {
      const keys = await keysInSlot(from, slot)
      // a slot of one key cannot be split: every other one moves, so that some slots answer ASK
      const part = keys.length * share
      const batch = keys.slice(
        0,
        keys.length === 1 && n % 2 === 0 ? Math.ceil(part) : Math.floor(part),
      )
      if (batch.length === 0) continue
      await command(from, 'MIGRATE', to.host, String(to.port), '', '0', '5000', 'KEYS', ...batch)
      moved += batch.length
    }
    return moved
  }
  return {
    migrate,
    async migrateKeys(keys) {
      await command(from, 'MIGRATE', to.host, String(to.port), '', '0', '5000', 'KEYS', ...keys)
    },
    async finish() {
      await migrate(1)
      for (const slot of slots) {
        // the target, then the source, then the others: the order redis-cli uses
        const order = [
          to,
          from,
          ...masters.filter((m) => m.port !== to.port && m.port !== from.port),
        ]
        for (const node of order)
          await command(node, 'CLUSTER', 'SETSLOT', String(slot), 'NODE', toId)
      }
    },
  }
}

/**
 * `redis-cli --cluster reshard`: moves `count` slots (and their keys) from `from` to `to`, the way
 * an operator does.
 */
export async function reshardWithCli(
  from: ClusterNode,
  to: ClusterNode,
  count: number,
): Promise<void> {
  const [fromId, toId] = await Promise.all([nodeId(from), nodeId(to)])
  await run(
    'redis-cli',
    [
      '--cluster', 'reshard', `${from.host}:${from.port}`,
      '--cluster-from', fromId,
      '--cluster-to', toId,
      '--cluster-slots', String(count),
      '--cluster-yes',
    ], // biome-ignore format: flag and value pairs
    { timeout: 120_000 },
  )
}
