import { once } from 'node:events'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createDemo, type Demo } from '@authframework/example-shared'
import {
  loginFlows,
  mismatches,
  run,
  runFlow,
  scenarios,
} from '@authframework/example-shared/scenarios'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type DatabaseDemo, databaseDemo } from '../../shared/test-support.js'
import { buildApp } from '../src/app.js'

const demo = createDemo()
let url = ''
let server: Server
let db: DatabaseDemo
let dbUrl = ''
let dbServer: Server

async function listen(d: Demo): Promise<[Server, string]> {
  const app = buildApp({
    auth: d.authOptions,
    jwks: d.signer.exportJwks(),
    login: d.login,
    metrics: d.metrics,
  })
  const s = app.listen(0, '127.0.0.1')
  await once(s, 'listening')
  return [s, `http://127.0.0.1:${(s.address() as AddressInfo).port}`]
}

beforeAll(async () => {
  ;[server, url] = await listen(demo)
  db = await databaseDemo(demo.user)
  ;[dbServer, dbUrl] = await listen(db.demo)
})
afterAll(async () => {
  await Promise.all(
    [server, dbServer].map((s) => s && new Promise<void>((resolve) => s.close(() => resolve()))),
  )
  await db?.drop()
})

describe('examples/koa', () => {
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
