import { createDemo, type Demo } from '@authframework/example-shared'
import {
  loginFlows,
  mismatches,
  run,
  runFlow,
  scenarios,
} from '@authframework/example-shared/scenarios'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type DatabaseDemo, databaseDemo } from '../../shared/test-support.js'
import { buildApp } from '../src/app.js'

const demo = createDemo()
let app: FastifyInstance
let url = ''
let db: DatabaseDemo
let dbApp: FastifyInstance
let dbUrl = ''

async function listen(d: Demo): Promise<[FastifyInstance, string]> {
  const a = await buildApp({
    auth: d.authOptions,
    jwks: d.signer.exportJwks(),
    login: d.login,
    metrics: d.metrics,
  })
  return [a, await a.listen({ port: 0, host: '127.0.0.1' })]
}

beforeAll(async () => {
  ;[app, url] = await listen(demo)
  db = await databaseDemo(demo.user)
  ;[dbApp, dbUrl] = await listen(db.demo)
})
afterAll(async () => {
  await Promise.all([app?.close(), dbApp?.close()])
  await db?.drop()
})

describe('examples/fastify', () => {
  it.each(scenarios(demo))('$name → $status', async (s) => {
    expect(mismatches(await run(url, s), s)).toEqual([])
  })

  it('serves the key that verifies its tokens', async () => {
    const res = await fetch(`${url}/.well-known/jwks.json`)
    expect(await res.json()).toEqual(demo.signer.exportJwks())
  })

  it.each(loginFlows(demo))('embedded users: $name', async (flow) => {
    expect(await runFlow(url, flow)).toEqual([])
  })

  it.each(loginFlows(demo))('PostgreSQL users: $name', async (flow) => {
    expect(await runFlow(dbUrl, flow)).toEqual([])
  })

  it('writes login_success and login_failure rows to the audit_log in PostgreSQL', async () => {
    // two good logins; wrong password, unknown user, five guesses and the refused sixth
    expect(await db.auditCounts()).toEqual({ login_success: 2, login_failure: 8 })
  })
})
