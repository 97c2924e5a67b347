/**
 * PostgreSQL is the record, across processes: three server processes (test/support/
 * coherence-instance.ts) share PostgreSQL and Redis; B reaches Redis through a proxy that
 * black-holes, C through one that stalls. A role removed by plain SQL, and a token revoked on B
 * while B cannot reach Redis, are enforced by all three within 1 s; no stale allow after Redis
 * returns; and each process shuts down within 5 s, B during its black hole, then exits by itself.
 */
import type { ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { Agent, request } from 'node:http'
import { migrate } from '@authframework/core'
import {
  createTestSchema,
  endpointOf,
  REDIS_URL,
  runId,
  seed,
  type TestSchema,
  viaProxy,
} from '@authframework/test-support/services'
import { startTcpProxy, type TcpProxy } from '@authframework/test-support/tcp-proxy'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { forkInstance, instanceConfig, instanceSigner } from './support/fork.js'

const BOUND_MS = 1000
const prefix = `aftest:${runId()}:coherence:`
const signer = instanceSigner
const agent = new Agent({ keepAlive: true, maxSockets: 8 })

let schema: TestSchema
let blackholed: TcpProxy
let stalled: TcpProxy
const children: { child: ChildProcess; port: number }[] = []

function start(name: string, redisUrl: string): Promise<{ child: ChildProcess; port: number }> {
  const config = instanceConfig(name, {
    schema: schema.name,
    redisUrl: redisUrl,
    keyPrefix: prefix,
  })
  return forkInstance('coherence-instance.ts', 'AF_INSTANCE', name, config)
}

function send(index: number, token: string, method = 'GET', path = '/orders/write') {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: children[index]!.port,
        path,
        method,
        agent,
        headers: { authorization: `Bearer ${token}` },
      },
      (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => {
          body += chunk
        })
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
      },
    )
    req.on('error', reject)
    req.end()
  })
}

/** Asks every instance until all answer `status`; resolves how long that took. */
async function untilAll(token: string, status: number): Promise<number> {
  const start = performance.now()
  for (;;) {
    const answers = await Promise.all(children.map((_, i) => send(i, token)))
    if (answers.every((answer) => answer.status === status)) return performance.now() - start
    if (performance.now() - start > 5000) {
      throw new Error(`not all ${status} within 5 s: ${answers.map((a) => a.status).join(' ')}`)
    }
  }
}

/** For `ms`, every instance keeps answering `status` (no stale allow coming back). */
async function keeps(token: string, status: number, ms: number): Promise<void> {
  const end = performance.now() + ms
  while (performance.now() < end) {
    const answers = await Promise.all(children.map((_, i) => send(i, token)))
    expect(answers.map((answer) => answer.status)).toEqual(children.map(() => status))
  }
}

beforeAll(async () => {
  ;[schema, blackholed, stalled] = await Promise.all([
    createTestSchema(),
    startTcpProxy(endpointOf(REDIS_URL, 6379)),
    startTcpProxy(endpointOf(REDIS_URL, 6379)),
  ])
  const pool = schema.pool({ max: 2 })
  await migrate(pool)
  await seed(pool, {
    roles: { writer: ['orders:write'] },
    users: [
      { id: 'sql-user', roles: ['writer'] },
      { id: 'logout-user', roles: ['writer'] },
    ],
  })
  children.push(
    await start('A', REDIS_URL),
    await start('B', viaProxy(REDIS_URL, blackholed)),
    await start('C', viaProxy(REDIS_URL, stalled)),
  )
}, 60_000)

afterAll(async () => {
  blackholed?.restore()
  stalled?.restore()
  for (const { child } of children) if (child.exitCode === null) child.kill('SIGKILL')
  agent.destroy()
  await Promise.allSettled([blackholed?.close(), stalled?.close()])
  await schema?.drop()
})

describe('three processes, Redis black-holed under B and stalled under C', () => {
  it('a role removed by SQL alone is enforced by all within 1 s, and stays so after Redis returns', async () => {
    const token = signer.sign({ sub: 'sql-user' })
    await untilAll(token, 200)
    blackholed.blackhole()
    stalled.stall()
    await schema.pool({ max: 1 }).query('DELETE FROM user_roles WHERE user_id = $1', ['sql-user'])
    const ms = await untilAll(token, 403)
    console.log(`[coherence] role removed by SQL: 403 on A, B, C after ${ms.toFixed(0)} ms`)
    expect(ms).toBeLessThan(BOUND_MS)
    blackholed.restore()
    stalled.restore()
    await keeps(token, 403, 1500)
  })

  it("a token revoked on B while B's Redis is black-holed is refused by all within 1 s", async () => {
    const token = signer.sign({ sub: 'logout-user' })
    await untilAll(token, 200)
    blackholed.blackhole()
    const start = performance.now()
    const logout = await send(1, token, 'POST', '/logout')
    expect(logout.status).toBe(200)
    const ms = await untilAll(token, 401)
    console.log(
      `[coherence] revoked on black-holed B (published: ${JSON.parse(logout.body).published}): 401 on A, B, C ${(performance.now() - start).toFixed(0)} ms after logout began`,
    )
    expect(ms).toBeLessThan(BOUND_MS)
    // B still cannot reach Redis: its shutdown is bounded all the same, and every process exits
    const stopped = await Promise.all(
      children.map(async ({ child }) => {
        child.send('stop')
        const [report] = (await once(child, 'message')) as [{ stoppedInMs: number }]
        const exited = once(child, 'exit')
        child.disconnect()
        await Promise.race([
          exited,
          new Promise((_, reject) => setTimeout(() => reject(new Error('did not exit')), 5000)),
        ])
        return report.stoppedInMs
      }),
    )
    console.log(`[coherence] shutdown took ${stopped.map((t) => t.toFixed(0)).join(' / ')} ms`)
    for (const ms of stopped) expect(ms).toBeLessThan(5000)
  })
})
