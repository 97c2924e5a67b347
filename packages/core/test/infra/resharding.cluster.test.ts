/**
 * Resharding on a real local Redis Cluster of this file's own (3 masters, 3 replicas): two
 * instances (permission store, session store, `local` or `strict` revocation list, change log) and
 * a listener (a `local` revocation list that learns of revocations only through the channel) serve
 * traffic while the slots of the revocation channel and of every key under test move from the
 * channel's home master to another one, key by key. Changes made while the slots are half moved are
 * enforced by both within the change log's bound (1 s), no lookup fails and nothing stale is allowed,
 * the moved keys are read from Redis again once the move is done, and a revocation made after the
 * move reaches the listener through the channel.
 */

import {
  beginSlotMove,
  keysWithPrefix,
  reshardWithCli,
  type SlotMove,
} from '@authframework/test-support/redis-reshard'
import { connectRedis } from '@authframework/test-support/services'
import { describe, expect, it } from 'vitest'
import { keySlot, mgetAcross } from '../../src/infra/redis-cluster.js'
import { tokenHashOf } from '../../src/revocation/keys.js'
import { codeOf, signer } from '../revocation/setup.js'
import { BOUND_MS, type Instance, until, useOwnCluster } from './cluster-instances.js'
import { type Change, startTraffic } from './resharding-traffic.js'

const USERS = Array.from({ length: 48 }, (_, i) => `rs-${i}`)
const own = useOwnCluster(USERS)
const { prefix } = own

/** Every instance refuses the token and the session, and no longer grants the user's permission. */
async function enforced(instances: Instance[], change: Change): Promise<boolean> {
  for (const i of instances) {
    if ((await codeOf(i.auth.verify(change.token))) !== 'token_revoked') return false
    if (await i.grants(change.user)) return false
    if ((await i.sessions.get(change.session)) !== null) return false
  }
  return true
}

describe('Redis Cluster resharding', () => {
  it('slots moved under traffic: changes made meanwhile are enforced within the bound, Redis serves again, the channel delivers', async () => {
    const a = await own.instance('local')
    const b = await own.instance('strict')
    const listener = await own.instance('local', true)
    const both = [a, b]
    for (const i of both) {
      expect((await Promise.all(USERS.map(i.grants))).every(Boolean)).toBe(true)
    }
    // the source: the revocation channel's home master (the subscriptions and messages are there)
    const from = await own.cluster.masterOf(keySlot(a.list.channel))
    const masters = await Promise.all([0, 6000, 12_000].map((slot) => own.cluster.masterOf(slot)))
    const to = masters.find((m) => m.port !== from.port)!
    const onSource = async (key: string) =>
      (await own.cluster.masterOf(keySlot(key))).port === from.port
    const users: string[] = []
    for (const id of USERS) if (await onSource(a.permissions.keyOf(id))) users.push(id)
    expect(users.length).toBeGreaterThan(1) // 48 users over 3 masters: 16 each on average
    const sessions: string[] = []
    while (sessions.length < 2) {
      const { id } = await a.sessions.create(users[0]!)
      if (await onSource(a.sessionsLayer.keyOf(id))) sessions.push(id)
    }
    for (const i of both) for (const id of sessions) expect(await i.sessions.get(id)).not.toBeNull()
    // the token revoked during the move: its denylist key is in a slot that moves
    let token = signer.sign({ sub: 'rs-during' })
    while (
      !(await onSource(
        a.list.keyOf({ kind: 'token', tokenHash: tokenHashOf(token), expiresAt: 0 }),
      ))
    ) {
      token = signer.sign({ sub: 'rs-during' })
    }
    const change: Change = { user: users[0]!, token, session: sessions[0]! }
    const before = signer.sign({ sub: 'rs-before' })
    await a.auth.revoke({ token: before })
    for (const i of both) expect(await codeOf(i.auth.verify(change.token))).toBe('ok')

    // the slots: the channels' on the source and every slot there holding a key of this test
    const keys = await keysWithPrefix(from, prefix)
    const channels = [a.list.channel, a.permissions.channel, a.sessionsLayer.channel]
    const candidates = new Set([...channels, ...keys].map(keySlot))
    const slots: number[] = []
    for (const slot of candidates)
      if ((await own.cluster.masterOf(slot)).port === from.port) slots.push(slot)
    expect(slots).toContain(keySlot(a.list.channel))

    const traffic = startTraffic(both, USERS, change, BOUND_MS, [before])
    const movedAt = performance.now()
    const move = await beginSlotMove(masters, slots, from, to)
    const half = await move.migrate(0.5)
    // while the slots are half moved: a role removed, a token revoked, a session destroyed
    const changedAt = performance.now()
    const revoked = await codeOf(a.auth.revoke({ token: change.token }))
    await own.pool.query('DELETE FROM user_roles WHERE user_id = $1', [change.user])
    const destroyed = await b.sessions.destroy(change.session).then(
      () => 'ok',
      (error: { code?: string }) => error.code ?? 'error',
    )
    traffic.changed(changedAt)
    const enforcedMs = await until(() => enforced(both, change), changedAt, 5000)
    expect(enforcedMs).toBeLessThan(BOUND_MS)
    await move.finish()
    const moveMs = performance.now() - movedAt
    for (const slot of slots) expect((await own.cluster.masterOf(slot)).port).toBe(to.port)

    // the moved keys are read through the layers again (Redis answers, from the new master)
    const [witness, live] = [users.at(-1)!, sessions[1]!]
    const doneAt = performance.now()
    const redisMs = await until(async () => {
      const hit = await a.permissions.get(witness).catch(() => undefined)
      const session = await b.sessionsLayer.get(live).catch(() => undefined)
      return hit != null && session != null
    }, doneAt)
    const lists = [a, b, listener].map((i) => i.list)
    const lastErrors = () => [a, b, listener].map((i) => [...new Set(i.errors)].slice(0, 6))
    // subscribed and nothing left to publish; a strict list's breaker (its checks' MGET deadline)
    // is a matter of load, reported beside the figures
    const subscribed = () =>
      lists.every((l) => l.subscription.state === 'live' && l.unpublished === 0)
    const listMs = await until(subscribed, doneAt).catch((error: Error) => {
      const states = lists.map((l) => [l.mode, l.state, l.subscription, l.unpublished])
      throw new Error(`${error.message}: ${JSON.stringify([states, lastErrors()])}`)
    })
    // a revocation after the move reaches the listener, which only hears the channel
    const after = signer.sign({ sub: 'rs-after' })
    // A list whose breaker is still open (its checks missed their deadline under load) answers
    // 503 "stored, published later", which is safe to retry: the revocation is timed from the
    // call that published it.
    let revokedAt = performance.now()
    await until(async () => {
      revokedAt = performance.now()
      return b.auth.revoke({ token: after }).then(
        () => true,
        () => false,
      )
    }, revokedAt)
    const channelMs = await until(
      async () => (await codeOf(listener.auth.verify(after))) === 'token_revoked',
      revokedAt,
      5000,
    )
    expect(channelMs).toBeLessThan(BOUND_MS)

    // an operator's reshard of the same master, with redis-cli, under the same traffic
    const cliAt = performance.now()
    await reshardWithCli(from, to, 500)
    const cliMs = performance.now() - cliAt
    await own.cluster.healthy()
    const stats = await traffic.stop()
    expect(stats.violations).toEqual([])
    expect(stats.lookupErrors).toBe(0)
    await expect(enforced([a, b], change)).resolves.toBe(true)
    console.log(
      `[resharding] ${slots.length} slots (${keys.length} keys, ${half} moved in the first half) from :${from.port} to :${to.port} in ${moveMs.toFixed(0)} ms; ` +
        `revoke during the move: ${revoked}, destroy: ${destroyed}; enforced by both ${enforcedMs.toFixed(0)} ms after the change; ` +
        `moved keys read from Redis ${redisMs.toFixed(0)} ms after the move; lists subscribed after ${listMs.toFixed(0)} ms (states ${lists.map((l) => l.state).join('/')}); ` +
        `a revocation after the move reached the channel-only listener in ${channelMs.toFixed(0)} ms; ` +
        `redis-cli reshard of 500 slots in ${cliMs.toFixed(0)} ms; traffic: ${JSON.stringify(stats.counts)}`,
    )
  }, 120_000)
})

describe('reads of many keys while slots move', () => {
  it('a slot whose keys are on both sides (TRYAGAIN) or already moved (ASK) is read again, not failed', async () => {
    // no command deadline of its own: the read waits for the move, which a busy machine slows
    const client = await connectRedis(own.cluster.url, { commandTimeout: 10_000 })
    own.cleanup.push(() => client.disconnect())
    const split = [`${prefix}{split}:a`, `${prefix}{split}:b`, `${prefix}{split}:c`]
    const moved = [`${prefix}{moved}:a`, `${prefix}{moved}:b`]
    const others = USERS.map((id) => `${prefix}other:${id}`) // on every master
    const keys = [...split, ...moved, ...others]
    for (const key of keys) await client.set(key, key)
    const masters = await Promise.all([0, 6000, 12_000].map((slot) => own.cluster.masterOf(slot)))
    const moves = []
    for (const key of [split[0]!, moved[0]!]) {
      const from = await own.cluster.masterOf(keySlot(key))
      const to = masters.find((m) => m.port !== from.port)!
      moves.push(await beginSlotMove(masters, [keySlot(key)], from, to))
    }
    const [splitMove, movedMove] = moves as [SlotMove, SlotMove]
    await splitMove.migrateKeys([split[0]!]) // one of three: the slot is on both sides
    await movedMove.migrateKeys(moved) // both: the source answers ASK

    // ASK: the slot's MGET goes to the node its keys are on now
    expect(await mgetAcross(client, [...moved, ...others])).toEqual([...moved, ...others])
    // TRYAGAIN: the slot's MGET waits for the move to complete (ioredis' retryDelayOnTryAgain)
    const read = mgetAcross(client, keys)
    await splitMove.finish()
    expect(await read).toEqual(keys)
    await movedMove.finish()
    expect(await mgetAcross(client, keys)).toEqual(keys)
  }, 60_000)
})
