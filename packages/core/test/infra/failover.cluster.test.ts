/**
 * Failover on a real local Redis Cluster of this file's own (3 masters, 3 replicas, node timeout
 * 1000 ms): two instances (permission store, strict or local revocation list, change log) warm
 * their caches, then the master that serves the revocation channel's home slot and a user's key is
 * killed by its PID. Changes made while its replica takes over are enforced by both within the
 * change log's bound (1 s), nothing stale is allowed afterwards, lookups go back to Redis once the
 * replica serves the slot, and a fresh instance started after the failover sees every change.
 */

import { describe, expect, it } from 'vitest'
import { keySlot } from '../../src/infra/redis-cluster.js'
import { codeOf, signer } from '../revocation/setup.js'
import { BOUND_MS, type Instance, until, useOwnCluster } from './cluster-instances.js'

const USERS = Array.from({ length: 24 }, (_, i) => `fo-${i}`)
const own = useOwnCluster(USERS)
const { prefix } = own

/** Every instance refuses the token and no longer grants the user's permission. */
async function enforced(instances: Instance[], token: string, user: string): Promise<boolean> {
  for (const i of instances) {
    if ((await codeOf(i.auth.verify(token))) !== 'token_revoked') return false
    if (await i.grants(user)) return false
  }
  return true
}

describe('Redis Cluster failover', () => {
  it('a master killed by its PID: changes made meanwhile are enforced within the bound, lookups return to Redis', async () => {
    const a = await own.instance('local')
    const b = await own.instance('strict')
    const both = [a, b]
    for (const i of both) {
      expect((await Promise.all(USERS.map(i.grants))).every(Boolean)).toBe(true)
    }
    const before = signer.sign({ sub: 'fo-before' })
    const during = signer.sign({ sub: 'fo-during' })
    for (const i of both) expect(await codeOf(i.auth.verify(during))).toBe('ok')
    await a.auth.revoke({ token: before })

    // the victim: the home node of the revocation channel (the subscriptions are there)
    const victim = await own.cluster.masterOf(keySlot(`${prefix}revocations`))
    const owners = await Promise.all(
      USERS.map((id) => own.cluster.masterOf(keySlot(a.permissions.keyOf(id)))),
    )
    const onVictim = USERS.filter((_, i) => owners[i]!.port === victim.port)
    expect(onVictim.length).toBeGreaterThan(0) // 24 users over 3 masters
    const [user, witness] = [onVictim[0]!, onVictim.at(-1)!]

    const killedAt = performance.now()
    await own.cluster.kill(victim)
    // while the replica has not taken over: a revocation and a role removal
    const changedAt = performance.now()
    const revoked = await codeOf(a.auth.revoke({ token: during }))
    await own.pool.query('DELETE FROM user_roles WHERE user_id = $1', [user])
    const enforcedMs = await until(() => enforced(both, during, user), changedAt, 5000)
    expect(enforcedMs).toBeLessThan(BOUND_MS)

    // until the cluster has recovered, nothing stale is allowed
    let promotedMs: number | undefined
    let redisMs: number | undefined
    const slot = keySlot(a.permissions.keyOf(witness))
    await until(async () => {
      expect(await enforced(both, during, user)).toBe(true)
      for (const i of both) expect(await codeOf(i.auth.verify(before))).toBe('token_revoked')
      if (promotedMs === undefined) {
        const master = await own.cluster.masterOf(slot).catch(() => victim)
        if (master.port !== victim.port) promotedMs = performance.now() - killedAt
      }
      if (promotedMs !== undefined && redisMs === undefined) {
        // a read of the slot through the layer itself (its deadline and breaker) answers again
        const read = await a.permissions.get(witness).then(
          () => true,
          () => false,
        )
        if (read) redisMs = performance.now() - killedAt
      }
      return redisMs !== undefined
    }, killedAt)
    const listMs = await until(() => both.every((i) => i.list.state === 'live'), killedAt)
    expect(a.list.unpublished).toBe(0) // the revocation made during the failover went out too

    // a fresh instance (empty memory) started after the failover sees both changes
    const c = await own.instance('strict')
    const freshMs = await until(() => enforced([c], during, user), performance.now(), BOUND_MS)
    expect(await codeOf(c.auth.verify(before))).toBe('token_revoked')
    expect(await c.grants(witness)).toBe(true)
    console.log(
      `[failover] master :${victim.port} killed (pid ${victim.pid}); revoke during the failover: ${revoked}; ` +
        `revocation and role removal enforced by both instances ${enforcedMs.toFixed(0)} ms after the change; ` +
        `replica promoted after ${promotedMs!.toFixed(0)} ms; the slot read through the layer again after ${redisMs!.toFixed(0)} ms; ` +
        `revocation lists live (subscribed, breaker closed, outbox published) after ${listMs.toFixed(0)} ms; a fresh strict instance enforced both at ${freshMs.toFixed(0)} ms`,
    )
  }, 90_000)
})
