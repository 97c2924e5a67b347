import { createTestSchema, type TestSchema } from '@authframework/test-support/services'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createAuditSink,
  createAuth,
  createSigner,
  migrate,
  requestInput,
} from '../../src/index.js'

const SECRET = 'an-hmac-secret-of-more-than-thirty-two-bytes!!'
let schema: TestSchema

beforeAll(async () => {
  schema = await createTestSchema()
  await migrate(schema.pool())
})
afterAll(() => schema.drop())

const input = (authorization?: string) =>
  requestInput({ headers: { authorization }, socket: { remoteAddress: '198.51.100.7' } })

describe('createAuditSink', () => {
  it('writes security events to audit_log in batches, without tokens', async () => {
    const pool = schema.pool()
    const writeErrors: unknown[] = []
    const audit = createAuditSink({
      pool,
      batchSize: 3,
      flushIntervalMs: 60_000,
      onError: (e) => writeErrors.push(e),
    })
    const signer = createSigner({ algorithm: 'HS256', secret: SECRET, audience: 'api' })
    const auth = createAuth({ algorithms: ['HS256'], secret: SECRET, audience: 'api', audit })
    const expired = signer.sign({ sub: 'u1' }, { ttlSeconds: -60 })
    for (const h of [`Bearer ${expired}`, 'Bearer x.y.z', undefined]) {
      try {
        auth.authenticate(input(h))
      } catch {}
    }
    await auth.revoke({ sub: 'u9' })
    await audit.flush()
    expect(writeErrors).toEqual([])
    const { rows } = await pool.query(
      'SELECT user_id, event_type, details FROM audit_log ORDER BY id',
    )
    expect(rows).toEqual([
      {
        user_id: null,
        event_type: 'auth_failure',
        details: { code: 'token_expired', status: 401, clientAddress: '198.51.100.7' },
      },
      {
        user_id: null,
        event_type: 'auth_failure',
        details: { code: 'token_invalid', status: 401, clientAddress: '198.51.100.7' },
      },
      {
        user_id: null,
        event_type: 'auth_failure',
        details: { code: 'credentials_missing', status: 401, clientAddress: '198.51.100.7' },
      },
      {
        user_id: 'u9',
        event_type: 'revocation',
        details: { kind: 'subject', expiresAt: expect.any(Number) },
      },
    ])
    expect(JSON.stringify(rows)).not.toContain(expired.slice(0, 20))
    await audit.close()
  })

  it('is bounded: a flood is counted, not queued without limit; a failed write is dropped', async () => {
    const errors: unknown[] = []
    let writes = 0
    const sink = createAuditSink({
      pool: {
        query: async () => {
          writes++
          throw new Error('db down')
        },
      },
      batchSize: 1000,
      maxQueue: 100,
      onError: (e) => errors.push(e),
    })
    for (let i = 0; i < 10_000; i++) sink.warn({ event: 'auth_failure', code: 'token_invalid' })
    expect(sink.pending).toBe(100)
    expect(sink.dropped).toBe(9_900)
    await sink.close()
    expect(writes).toBe(1)
    expect(sink.dropped).toBe(10_000)
    expect(errors).toHaveLength(1)
  })
})
