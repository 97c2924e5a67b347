/** The core's hash slot of a key is the one Redis Cluster computes (`CLUSTER KEYSLOT`). */
import { randomBytes } from 'node:crypto'
import { connectRedis } from '@authframework/test-support/services'
import { expect, it } from 'vitest'
import { keySlot } from '../../src/infra/redis-cluster.js'

it('keySlot agrees with CLUSTER KEYSLOT, hash tags and multi-byte characters included', async () => {
  const redis = await connectRedis()
  try {
    const keys = [
      '',
      '{}',
      '{}x',
      'a{}b{c}',
      '{user1}:a',
      'x{user1}',
      '{{a}}',
      'é{ü}',
      '日本{語}',
      ...Array.from(
        { length: 200 },
        (_, i) => `af:rev:{rev:${i % 64}}:${randomBytes(8).toString('base64url')}`,
      ),
      ...Array.from({ length: 200 }, () => randomBytes(12).toString('latin1')),
    ]
    const slots = await Promise.all(keys.map((key) => redis.cluster('KEYSLOT', key)))
    expect(keys.map(keySlot)).toEqual(slots)
  } finally {
    redis.disconnect()
  }
})
