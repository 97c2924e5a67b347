/**
 * What a Redis Cluster changes for the core, in one place: a command, a MULTI or a Lua script must
 * keep its keys in one hash slot, and a pipeline on one node. Reads of many keys are split into one
 * `MGET` per slot, sent as one pipeline per node; writes of many keys into one pipeline per node;
 * a write followed by its pub/sub message is one MULTI on a single client, and on a Cluster the
 * writes first, then the `PUBLISH` (classic pub/sub reaches every node of a Cluster).
 * With a single client each of these is the one command it always was.
 */
import type { ChainableCommander, Redis, RedisClient, RedisCluster } from '../peer-types.js'

/**
 * Runs a MULTI or a pipeline; rejects when the MULTI was aborted or with the first command's error
 * (ioredis resolves `exec()` with each command's error beside its answer).
 *
 * @example
 * await execBatch(redis.multi().del(key).publish(channel, id))
 */
export async function execBatch(batch: ChainableCommander): Promise<void> {
  const results = await batch.exec()
  if (results === null) throw new Error('Redis MULTI was aborted.')
  const failed = results.find(([error]) => error !== null)
  if (failed) throw failed[0]
}

/** Hash slots of a Redis Cluster. */
export const CLUSTER_SLOTS = 16384

/**
 * Whether `client` is an ioredis Cluster.
 *
 * @example
 * if (isCluster(client)) client.nodes('master')
 */
export function isCluster(client: RedisClient): client is RedisCluster {
  return (client as { isCluster?: unknown }).isCluster === true
}

/**
 * Whether `value` looks like an ioredis client (commands, and `duplicate` for a subscription) or
 * an ioredis Cluster (commands, and `nodes` to subscribe on one of them): the check every option
 * that takes Redis makes at construction.
 */
export function isRedisClient(value: unknown): value is RedisClient {
  if (typeof value !== 'object' || value === null) return false
  const client = value as Partial<Record<'get' | 'mget' | 'duplicate' | 'nodes', unknown>>
  if (typeof client.get !== 'function' || typeof client.mget !== 'function') return false
  return isCluster(value as RedisClient)
    ? typeof client.nodes === 'function'
    : typeof client.duplicate === 'function'
}

/** CRC16-CCITT (XMODEM), the checksum Redis Cluster hashes keys with. */
function crc16(bytes: Uint8Array, start: number, end: number): number {
  let crc = 0
  for (let i = start; i < end; i++) {
    crc ^= bytes[i]! << 8
    for (let bit = 0; bit < 8; bit++) {
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff
    }
  }
  return crc
}

/**
 * The hash slot of a key, as Redis Cluster computes it: of the hash tag (the first non-empty
 * `{...}`) when there is one, else of the whole key.
 *
 * @example
 * keySlot('{user1}:a') === keySlot('{user1}:b') // true
 */
export function keySlot(key: string): number {
  const bytes = Buffer.from(key, 'utf8')
  const open = bytes.indexOf(0x7b)
  if (open !== -1) {
    const close = bytes.indexOf(0x7d, open + 1)
    if (close > open + 1) return crc16(bytes, open + 1, close) % CLUSTER_SLOTS
  }
  return crc16(bytes, 0, bytes.length) % CLUSTER_SLOTS
}

/**
 * The indexes of `keys` grouped by slot, and the slots grouped by the nodes that serve them (the
 * master and its replicas, as ioredis knows them now). Before the Cluster knows its slots, one group.
 */
function groupByNode(cluster: RedisCluster, keys: readonly string[]): number[][][] {
  const bySlot = new Map<number, number[]>()
  for (let i = 0; i < keys.length; i++) {
    const slot = keySlot(keys[i]!)
    const group = bySlot.get(slot)
    if (group === undefined) bySlot.set(slot, [i])
    else group.push(i)
  }
  const byNode = new Map<string, number[][]>()
  for (const [slot, indexes] of bySlot) {
    const node = cluster.slots[slot]?.join(',') ?? ''
    const groups = byNode.get(node)
    if (groups === undefined) byNode.set(node, [indexes])
    else groups.push(indexes)
  }
  return [...byNode.values()]
}

/** Waits for every batch, then rejects with the first failure: nothing is left running. */
async function settleAll(batches: readonly Promise<unknown>[]): Promise<void> {
  const results = await Promise.allSettled(batches)
  const failed = results.find((result) => result.status === 'rejected')
  if (failed !== undefined) throw (failed as PromiseRejectedResult).reason
}

/**
 * Whether a command failed because its slot is moving between nodes: `MOVED` (the slot has moved),
 * `ASK` (its key has moved while the slot migrates) or `TRYAGAIN` (a multi-key command whose keys
 * are on both sides of the move), or, for a pipeline, ioredis' refusal of a pipeline its retry of a
 * redirection spread over several nodes. Each is answered by sending the command again, which
 * ioredis does for a command of its own (`maxRedirections`, `retryDelayOnTryAgain`).
 */
function isMoving(error: Error): boolean {
  return /^(MOVED|ASK|TRYAGAIN) |same slots allocation group/.test(error.message)
}

/**
 * The values of `keys`, in order: one `MGET` on a single client; on a Cluster one `MGET` per slot,
 * those of a node in one pipeline, the nodes in parallel. Keys that share a hash tag are read
 * together, atomically.
 *
 * @example
 * const [a, b] = await mgetAcross(client, ['af:perm:a', 'af:perm:b'])
 */
export async function mgetAcross(
  client: RedisClient,
  keys: readonly string[],
): Promise<(string | null)[]> {
  if (!isCluster(client)) return client.mget([...keys])
  const values: (string | null)[] = keys.map(() => null)
  const read = async (slots: number[][]): Promise<void> => {
    const pipeline = client.pipeline()
    for (const indexes of slots) pipeline.mget(...indexes.map((i) => keys[i]!))
    // a pipeline whose slots are moving fails as a whole when ioredis' own retry sends it all to
    // one node: each slot's MGET is then sent again as a command of its own
    const results = await pipeline.exec().catch((error: Error) => {
      if (isMoving(error)) return slots.map((): [Error, null] => [error, null])
      throw error
    })
    if (results === null) throw new Error('Redis pipeline was aborted.')
    const again: Promise<void>[] = []
    slots.forEach((indexes, n) => {
      const [error, answer] = results[n] ?? [new Error('Redis pipeline answered short.'), null]
      const fill = (list: (string | null)[]) => {
        indexes.forEach((i, k) => {
          values[i] = list[k] ?? null
        })
      }
      if (error === null) fill(answer as (string | null)[])
      else if (!isMoving(error)) throw error
      // a command of its own follows the redirection, or waits out the move of the slot's keys
      else again.push(client.mget(...indexes.map((i) => keys[i]!)).then(fill))
    })
    await settleAll(again)
  }
  await settleAll(groupByNode(client, keys).map(read))
  return values
}

/**
 * Runs one write per item (`add` queues it on the batch; `keyOf` is its one key): one pipeline on
 * a single client, one pipeline per node on a Cluster (the nodes in parallel). Rejects with the
 * first command's error once every pipeline has answered.
 *
 * @example
 * await pipelineAcross(client, entries, ([id]) => keyOf(id), (batch, [id, text]) => batch.set(keyOf(id), text))
 */
export async function pipelineAcross<T>(
  client: RedisClient,
  items: readonly T[],
  keyOf: (item: T) => string,
  add: (batch: ChainableCommander, item: T) => void,
): Promise<void> {
  if (items.length === 0) return
  if (!isCluster(client)) {
    const batch = client.pipeline()
    for (const item of items) add(batch, item)
    return execBatch(batch)
  }
  const groups = groupByNode(client, items.map(keyOf))
  await settleAll(
    groups.map((slots) => {
      const batch = client.pipeline()
      for (const indexes of slots) for (const i of indexes) add(batch, items[i]!)
      return execBatch(batch)
    }),
  )
}

/**
 * The master that serves the hash slot of a channel's name, when ioredis knows it: a Cluster's
 * home node for that channel. Publishers and subscribers meet there, so that a message goes straight
 * from the one to the others (classic pub/sub would also reach them on any other node, one hop of
 * the cluster bus later: while they disagree during a failover, nothing is lost).
 */
function homeNode(cluster: RedisCluster, channel: string): Redis | undefined {
  const address = cluster.slots[keySlot(channel)]?.[0]
  if (address === undefined) return undefined
  return cluster
    .nodes('master')
    .find((node) => `${node.options?.host}:${node.options?.port}` === address)
}

/**
 * Writes the items, then publishes each of `messages` on `channel`: on a single client in one MULTI
 * (every subscriber hears of a change only together with it); on a Cluster, where a MULTI cannot
 * span slots, the writes per node, then the messages (one pipeline, to the channel's home node)
 * once they have all succeeded; `together`: both at once, for messages that carry the change
 * itself (a subscriber applies it without reading the keys), one round trip sooner.
 *
 * @example
 * await writeThenPublish(client, ids, keyOf, (batch, id) => batch.del(keyOf(id)), channel, [ids.join(' ')])
 */
export async function writeThenPublish<T>(
  client: RedisClient,
  items: readonly T[],
  keyOf: (item: T) => string,
  add: (batch: ChainableCommander, item: T) => void,
  channel: string,
  messages: readonly string[],
  together = false,
): Promise<void> {
  if (!isCluster(client)) {
    const batch = client.multi()
    for (const item of items) add(batch, item)
    for (const message of messages) batch.publish(channel, message)
    return execBatch(batch)
  }
  const home = homeNode(client, channel)
  const batch = home?.status === 'ready' ? home.pipeline() : client.pipeline()
  for (const message of messages) batch.publish(channel, message)
  if (together) return settleAll([pipelineAcross(client, items, keyOf, add), execBatch(batch)])
  await pipelineAcross(client, items, keyOf, add)
  return execBatch(batch)
}

/**
 * A connection of its own for a subscription to `channel`: `client.duplicate(options)` on a single
 * client; on a Cluster a duplicate of the channel's home node (see {@link homeNode}), or else of
 * one of its nodes that is `ready`, picked at random (classic pub/sub messages reach every node,
 * replicas included); `undefined` while ioredis knows none. A node's connection does not reconnect
 * by itself (ioredis' Cluster default): when it ends, the subscription picks a node again.
 *
 * @example
 * const sub = subscriberConnection(client, 'af:invalidate', { autoResubscribe: false })
 */
export function subscriberConnection(
  client: RedisClient,
  channel: string,
  options: Parameters<Redis['duplicate']>[0],
): Redis | undefined {
  if (!isCluster(client)) return client.duplicate(options)
  const home = homeNode(client, channel)
  if (home?.status === 'ready') return home.duplicate(options)
  const nodes = client.nodes('all')
  const ready = nodes.filter((node) => node.status === 'ready')
  const pool = ready.length > 0 ? ready : nodes
  return pool[Math.floor(Math.random() * pool.length)]?.duplicate(options)
}

/**
 * The node connections of a Cluster that have commands waiting for an answer: after a deadline,
 * the ones that may have stalled.
 */
export function busyNodes(cluster: RedisCluster): Redis[] {
  return cluster.nodes('all').filter((node) => {
    const queue = (node as { commandQueue?: { length?: number } }).commandQueue
    return node.status === 'ready' && (queue?.length ?? 0) > 0
  })
}
