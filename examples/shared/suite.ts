/**
 * The test suite every example runs, whatever its framework: the shared scenario table, the JWK
 * Set, and the login flows against embedded users and against a fresh PostgreSQL schema.
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createDemo, type Demo } from './demo.js'
import {
  badLogins,
  loginFlows,
  mismatches,
  problemMismatches,
  rawPost,
  run,
  runFlow,
  scenarios,
} from './scenarios.js'
import { type DatabaseDemo, databaseDemo } from './test-support.js'

/** A listening example app: its base URL and how to stop it. */
export interface Listening {
  readonly url: string
  close(): Promise<unknown>
}

/**
 * Defines the shared tests for one example. `listen` builds the example app for a demo and
 * starts it on 127.0.0.1. Returns the embedded demo and its URL for the example's own extra tests.
 */
export function exampleSuite(name: string, listen: (demo: Demo) => Promise<Listening>) {
  const demo = createDemo()
  const state = { url: '' }
  let embedded: Listening | undefined
  let withDatabase: Listening | undefined
  let db: DatabaseDemo | undefined

  beforeAll(async () => {
    embedded = await listen(demo)
    state.url = embedded.url
    db = await databaseDemo(demo.user)
    withDatabase = await listen(db.demo)
  })
  afterAll(async () => {
    await Promise.all([embedded?.close(), withDatabase?.close()])
    await db?.drop()
  })

  describe(`examples/${name}`, () => {
    it.each(scenarios(demo))('$name → $status', async (s) => {
      expect(mismatches(await run(state.url, s), s)).toEqual([])
    })

    it('serves the key that verifies its tokens', async () => {
      const res = await fetch(`${state.url}/.well-known/jwks.json`)
      expect(await res.json()).toEqual(demo.signer.exportJwks())
    })

    it.each(loginFlows(demo))('embedded users: $name', async (flow) => {
      expect(await runFlow(state.url, flow)).toEqual([])
    })

    it.each(loginFlows(demo))('PostgreSQL users: $name', async (flow) => {
      expect(await runFlow(withDatabase!.url, flow)).toEqual([])
    })

    it('writes login_success and login_failure rows to the audit_log in PostgreSQL', async () => {
      // two good logins; wrong password, unknown user, five guesses and the refused sixth
      expect(await db!.auditCounts()).toEqual({ login_success: 2, login_failure: 8 })
    })
  })
  describe(`examples/${name}: what is not a login (issue 16)`, () => {
    it.each(badLogins())('$name → $status $code', async (bad) => {
      for (const url of [state.url, withDatabase!.url]) {
        const res = await rawPost(url, '/login', bad.headers, bad.body)
        expect(problemMismatches(res, bad), url).toEqual([])
      }
    })

    it('a body declared larger than 1 MiB: 413 at once, before it is sent', async () => {
      const res = await rawPost(
        state.url,
        '/login',
        { 'content-type': 'application/json', 'content-length': String(8 * 1024 * 1024) },
        [Buffer.from('{"username":"demo","password":"')],
        true,
      )
      expect(problemMismatches(res, { status: 413, code: 'payload_too_large' })).toEqual([])
      expect(res.headers.connection).toBe('close')
    })

    it('/metrics counts login outcomes, 429s included', async () => {
      const count = async (outcome: string) => {
        const text = await (await fetch(`${state.url}/metrics`)).text()
        const found = new RegExp(
          `authframework_logins_total\\{outcome="${outcome}"\\} (\\d+)`,
        ).exec(text)
        return Number(found?.[1] ?? Number.NaN)
      }
      const before = {
        invalid: await count('credentials_invalid'),
        limited: await count('too_many_attempts'),
        bad: await count('invalid_request'),
      }
      const guess = () =>
        rawPost(
          state.url,
          '/login',
          { 'content-type': 'application/json' },
          JSON.stringify({ username: 'metrics-probe', password: 'guess' }),
        )
      const statuses: number[] = []
      for (let i = 0; i < 7; i++) statuses.push((await guess()).status)
      expect(statuses).toEqual([401, 401, 401, 401, 401, 429, 429])
      await rawPost(state.url, '/login', { 'content-type': 'application/json' }, '{')
      expect(await count('credentials_invalid')).toBe(before.invalid + 5)
      expect(await count('too_many_attempts')).toBe(before.limited + 2)
      expect(await count('invalid_request')).toBe(before.bad + 1)
    })
  })
  return { demo, state }
}

/**
 * The example's entry point (`src/index.ts`, what `pnpm demo` runs) on a port that is taken: one
 * clear line on stderr and exit code 1, never a banner for a server that is not there.
 */
export function portTakenTest(entry: URL): void {
  it('exits 1 with a clear message when its port is taken', async () => {
    const taken = createServer()
    taken.listen(0, '127.0.0.1')
    await once(taken, 'listening')
    const port = (taken.address() as AddressInfo).port
    try {
      const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(entry)], {
        cwd: fileURLToPath(new URL('..', entry)),
        // the embedded demo: no database or Redis to wait for
        env: { ...process.env, PORT: String(port), DATABASE_URL: '', REDIS_URL: '' },
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      let stdout = ''
      let stderr = ''
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk
      })
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk
      })
      const [code] = (await once(child, 'exit')) as [number | null]
      expect(stderr).toContain(`Cannot listen on http://127.0.0.1:${port}: the port is in use`)
      expect(code).toBe(1)
      expect(stdout).not.toContain('listening on')
    } finally {
      taken.close()
    }
  })
}
