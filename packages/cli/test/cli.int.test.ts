/**
 * The `authframework` binary, run as a child process as a user would: from source through tsx
 * (what works on a fresh clone without a build), and once from the built `dist/cli.js`.
 */
import { execFile, spawn } from 'node:child_process'
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { createSigner } from '@authframework/core'
import { createTestSchema, DATABASE_URL } from '@authframework/test-support/services'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { parseClaims, parseExp } from '../src/commands/sign.js'
import { main } from '../src/main.js'

const PACKAGE = fileURLToPath(new URL('..', import.meta.url))
const SOURCE = join(PACKAGE, 'src/cli.ts')
const BUILT = join(PACKAGE, 'dist/cli.js')
const TSC = fileURLToPath(new URL('../../../node_modules/typescript/bin/tsc', import.meta.url))

interface Result {
  code: number
  stdout: string
  stderr: string
}

/** Runs the CLI in a child process; `input` is written to its standard input. */
function cli(args: string[], options: { input?: string; entry?: string } = {}): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', options.entry ?? SOURCE, ...args], {
      cwd: PACKAGE,
      env: { ...process.env, DATABASE_URL: '' },
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk) => {
      stdout += chunk
    })
    child.stderr.on('data', (chunk) => {
      stderr += chunk
    })
    child.on('error', reject)
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }))
    child.stdin.end(options.input ?? '')
  })
}

/** A failure: the exit code, and exactly one line on stderr with no stack trace. */
function expectOneLineError(result: Result, code: number, pattern: RegExp) {
  expect(result.code).toBe(code)
  const lines = result.stderr.trim().split('\n')
  expect(lines).toHaveLength(1)
  expect(lines[0]).toMatch(pattern)
  expect(result.stderr).not.toMatch(/\n\s+at /)
}

let dir: string
let keys: string
let token: string

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'af-cli-'))
  keys = join(dir, 'keys')
})

afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('authframework --help', () => {
  it('lists the commands', async () => {
    const result = await cli(['--help'])
    expect(result.code).toBe(0)
    for (const name of ['keygen', 'sign', 'inspect', 'verify', 'migrate']) {
      expect(result.stdout).toContain(`  ${name} `)
    }
  })

  it.each(['keygen', 'sign', 'inspect', 'verify', 'migrate'])('%s --help', async (name) => {
    const result = await cli([name, '--help'])
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(new RegExp(`^Usage: authframework ${name} `))
    expect(result.stderr).toBe('')
  })

  it('no command is a usage error (exit 2); so is an unknown one', async () => {
    const none = await cli([])
    expect(none.code).toBe(2)
    expect(none.stderr).toContain('Usage: authframework <command>')
    expectOneLineError(await cli(['frobnicate']), 2, /^authframework: unknown command "frobnicate"/)
    expect((await cli(['--version'])).stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/)
  })
})

describe('keygen', () => {
  it('writes private.pem with mode 0600 and the public JWK Set', async () => {
    const result = await cli(['keygen', '--alg', 'ES256', '--out', keys])
    expect(result.code).toBe(0)
    expect(result.stdout).toContain('private.pem (mode 0600')
    expect((await stat(join(keys, 'private.pem'))).mode & 0o777).toBe(0o600)
    const pem = await readFile(join(keys, 'private.pem'), 'utf8')
    expect(pem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/)
    const jwks = JSON.parse(await readFile(join(keys, 'jwks.json'), 'utf8'))
    expect(jwks.keys).toHaveLength(1)
    expect(jwks.keys[0]).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' })
    expect(jwks.keys[0].kid).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(jwks.keys[0].d).toBeUndefined()
  })

  it('never overwrites without --force', async () => {
    expectOneLineError(await cli(['keygen', '--out', keys]), 1, /exists; use --force/)
    const other = join(dir, 'other')
    expect((await cli(['keygen', '--alg', 'EdDSA', '--out', other])).code).toBe(0)
    const forced = await cli(['keygen', '--alg', 'RS256', '--out', other, '--force'])
    expect(forced.code).toBe(0)
    expect((await stat(join(other, 'private.pem'))).mode & 0o777).toBe(0o600)
    const jwks = JSON.parse(await readFile(join(other, 'jwks.json'), 'utf8'))
    expect(jwks.keys[0]).toMatchObject({ kty: 'RSA', alg: 'RS256' })
  })

  it('refuses an unknown algorithm', async () => {
    expectOneLineError(
      await cli(['keygen', '--alg', 'HS256', '--out', dir]),
      2,
      /--alg: expected one of .*see authframework keygen --help/,
    )
  })
})

describe('sign', () => {
  it('prints a token with sub, perms, iss, aud and the ttl', async () => {
    const result = await cli([
      'sign',
      '--key',
      join(keys, 'private.pem'),
      '--sub',
      'user-42',
      '--perms',
      'orders:read, orders:write',
      '--ttl',
      '15m',
      '--iss',
      'https://issuer.example',
      '--aud',
      'orders-api',
    ])
    expect(result.code).toBe(0)
    token = result.stdout.trim()
    expect(token.split('.')).toHaveLength(3)
    const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString())
    expect(claims).toMatchObject({
      sub: 'user-42',
      perms: ['orders:read', 'orders:write'],
      iss: 'https://issuer.example',
      aud: 'orders-api',
    })
    expect(claims.exp - claims.iat).toBe(900)
  })

  it('--compress prints the compressed: form when it is shorter', async () => {
    const perms = Array.from({ length: 60 }, (_, i) => `orders:region-${i}:read`).join(',')
    const args = ['sign', '--key', join(keys, 'private.pem'), '--sub', 'u', '--perms', perms]
    const compressed = await cli([...args, '--compress'])
    expect(compressed.stdout).toMatch(/^compressed:[A-Za-z0-9_-]+\n$/)
    const plain = await cli(args)
    expect(compressed.stdout.length).toBeLessThan(plain.stdout.length)
    const inspected = await cli(['inspect', compressed.stdout.trim()])
    expect(inspected.stdout).toContain('compressed: ')
    expect(inspected.stdout).toContain('"orders:region-59:read"')
    const verified = await cli([
      'verify',
      compressed.stdout.trim(),
      '--key',
      join(keys, 'jwks.json'),
    ])
    expect(verified.code).toBe(0)
    const small = await cli([
      'sign',
      '--key',
      join(keys, 'private.pem'),
      '--sub',
      'u',
      '--compress',
    ])
    expect(small.stdout.startsWith('eyJ')).toBe(true)
    expect(small.stderr).toContain('not shorter')
  })

  it('errors: missing options (2), unreadable or wrong key (1), bad ttl (2)', async () => {
    expectOneLineError(await cli(['sign', '--sub', 'x']), 2, /--key <file> is required/)
    expectOneLineError(
      await cli(['sign', '--key', join(dir, 'missing.pem'), '--sub', 'x']),
      1,
      /cannot read key file .*missing\.pem: no such file$/,
    )
    const wrong = await cli(['sign', '--key', join(keys, 'jwks.json'), '--sub', 'x'])
    expectOneLineError(wrong, 1, /is not a private key/)
    expectOneLineError(
      await cli(['sign', '--key', join(keys, 'private.pem'), '--sub', 'x', '--ttl', '5 weeks']),
      2,
      /--ttl: expected a duration/,
    )
    expectOneLineError(await cli(['sign', '--bogus']), 2, /Unknown option '--bogus'/)
  })

  it('makes expired tokens for tests: --ttl=-5m, or --exp in the past', async () => {
    const key = ['--key', join(keys, 'private.pem'), '--sub', 'u', '--aud', 'orders-api']
    const expired = await cli(['sign', ...key, '--ttl=-5m'])
    expect(expired.code).toBe(0)
    expect(expired.stderr).toContain('note: this token expired 300 seconds ago')
    const claims = JSON.parse(Buffer.from(expired.stdout.split('.')[1]!, 'base64url').toString())
    expect(claims.exp - claims.iat).toBe(-300)
    const jwks = join(keys, 'jwks.json')
    expectOneLineError(
      await cli(['verify', expired.stdout.trim(), '--key', jwks, '--aud', 'orders-api']),
      1,
      /^token_expired: /,
    )
    const at = await cli([
      'sign',
      ...key,
      '--exp',
      '2030-01-01T00:00:00Z',
      '--claim',
      'tenant=acme',
    ])
    const future = JSON.parse(Buffer.from(at.stdout.split('.')[1]!, 'base64url').toString())
    expect(future).toMatchObject({ exp: 1893456000, tenant: 'acme' })
    expectOneLineError(
      await cli(['sign', ...key, '--ttl', '1h', '--exp', '1893456000']),
      2,
      /give --ttl or --exp, not both/,
    )
  })

  it('--exp is the exp signed, even when a second ticks while the command runs', async () => {
    const out: string[] = []
    const err: string[] = []
    const io = {
      out: (text: string) => out.push(text),
      err: (text: string) => err.push(text),
      env: {},
    }
    // every read of the clock is 999 ms later than the one before: the second ticks between reads
    let t = 1_800_000_000_000
    const now = vi.spyOn(Date, 'now').mockImplementation(() => {
      t += 999
      return t
    })
    let code: number
    try {
      const key = ['--key', join(keys, 'private.pem'), '--sub', 'u']
      code = await main(['sign', ...key, '--exp', '1893456000'], io)
    } finally {
      now.mockRestore()
    }
    expect({ code, err }).toEqual({ code: 0, err: [] })
    const claims = JSON.parse(Buffer.from(out.join('').split('.')[1]!, 'base64url').toString())
    expect(claims.exp).toBe(1893456000)
  })

  it('--claim k=v: JSON values when they parse, strings otherwise; own options refused', () => {
    expect(
      parseClaims(['email=ada@example.com', 'admin=true', 'n=42', 'roles=["a","b"]', 'empty=']),
    ).toEqual({ email: 'ada@example.com', admin: true, n: 42, roles: ['a', 'b'], empty: '' })
    expect(() => parseClaims(['sub=x'])).toThrow(/--claim sub: use --sub/)
    expect(() => parseClaims(['exp=1'])).toThrow(/use --exp or --ttl/)
    expect(() => parseClaims(['novalue'])).toThrow(/expected name=value/)
    expect(() => parseClaims(['a=1', 'a=2'])).toThrow(/given twice/)
    expect(parseExp('1893456000')).toBe(1893456000)
    expect(parseExp('2030-01-01T00:00:00Z')).toBe(1893456000)
    expect(() => parseExp('tomorrow')).toThrow(/--exp: expected/)
    expect(() => parseExp('2030-01-01')).toThrow(/--exp: expected/) // no time zone: ambiguous
  })
})

describe('inspect', () => {
  it('shows header and claims and says clearly that nothing was verified', async () => {
    const result = await cli(['inspect', token])
    expect(result.code).toBe(0)
    expect(result.stdout.split('\n')[0]).toMatch(/^NOT VERIFIED/)
    expect(result.stdout).toContain('"alg": "ES256"')
    expect(result.stdout).toContain('"sub": "user-42"')
    expect(result.stdout).toMatch(/exp: \d{4}-\d\d-\d\dT.*\(in 1[45]m/)
  })

  it('--json, and the token from standard input with -', async () => {
    const result = await cli(['inspect', '-', '--json'], { input: `${token}\n` })
    expect(result.code).toBe(0)
    const out = JSON.parse(result.stdout)
    expect(out).toMatchObject({
      verified: false,
      compressed: false,
      header: { alg: 'ES256' },
      claims: { sub: 'user-42' },
    })
  })

  it('a malformed token is one line and exit 1; --debug adds the stack', async () => {
    expectOneLineError(await cli(['inspect', 'not.a-token']), 1, /^authframework: not a token: /)
    expectOneLineError(await cli(['inspect', 'compressed:!!!']), 1, /not a token/)
    const debug = await cli(['inspect', 'not-a-token', '--debug'])
    expect(debug.code).toBe(1)
    expect(debug.stderr).toMatch(/\n\s+at /)
  })
})

describe('verify', () => {
  it('prints the claims and exits 0', async () => {
    const result = await cli([
      'verify',
      token,
      '--key',
      join(keys, 'jwks.json'),
      '--iss',
      'https://issuer.example',
      '--aud',
      'orders-api',
    ])
    expect(result.code).toBe(0)
    expect(JSON.parse(result.stdout)).toMatchObject({ sub: 'user-42', aud: 'orders-api' })
    expect(result.stderr).toBe('')
  })

  it('accepts the private key file too (its public half)', async () => {
    const result = await cli([
      'verify',
      token,
      '--key',
      join(keys, 'private.pem'),
      '--aud',
      'orders-api',
    ])
    expect(result.code).toBe(0)
  })

  it('prints the exact error code and exits 1', async () => {
    const jwks = join(keys, 'jwks.json')
    expectOneLineError(
      await cli(['verify', token, '--key', jwks, '--aud', 'billing-api']),
      1,
      /^token_invalid: The "aud" claim does not match\.$/,
    )
    expectOneLineError(
      await cli(['verify', token, '--key', join(dir, 'other', 'jwks.json'), '--aud', 'orders-api']),
      1,
      /^token_invalid: /,
    )
    // an expired token, signed with the same key an hour and a half ago
    const pem = await readFile(join(keys, 'private.pem'), 'utf8')
    const past = createSigner({
      privateKey: pem,
      algorithm: 'ES256',
      audience: 'orders-api',
      clock: () => Date.now() - 5400_000,
      ttlSeconds: 3600,
    })
    expectOneLineError(
      await cli(['verify', past.sign({ sub: 'u' }), '--key', jwks, '--aud', 'orders-api']),
      1,
      /^token_expired: /,
    )
    expectOneLineError(
      await cli(['verify', 'garbage', '--key', jwks, '--aud', 'x']),
      1,
      /^token_invalid: /,
    )
  })

  it('says when the audience was not checked', async () => {
    const result = await cli(['verify', token, '--key', join(keys, 'jwks.json')])
    expect(result.code).toBe(0)
    expect(result.stderr.trim()).toMatch(/^authframework: note: .*no `audience` is set/)
  })

  it('verifies against a JWK Set URL', async () => {
    const body = await readFile(join(keys, 'jwks.json'))
    const server: Server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(body)
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`
      const result = await cli(['verify', token, '--jwks', url, '--aud', 'orders-api'])
      expect(result.stderr).toBe('')
      expect(result.code).toBe(0)
      expect(JSON.parse(result.stdout).sub).toBe('user-42')
    } finally {
      server.close()
    }
  })

  it('usage errors: no key source, or both', async () => {
    expectOneLineError(await cli(['verify', token]), 2, /either --key <file> or --jwks <url>/)
    expectOneLineError(
      await cli(['verify', token, '--key', 'a', '--jwks', 'http://127.0.0.1/']),
      2,
      /either --key/,
    )
    expectOneLineError(await cli(['verify', '--key', 'a']), 2, /give the token/)
  })
})

describe('migrate', () => {
  it('applies the schema once, then reports it up to date', async () => {
    const schema = await createTestSchema()
    try {
      const url = new URL(DATABASE_URL)
      url.searchParams.set('options', `-c search_path=${schema.name}`)
      const first = await cli(['migrate', '--database-url', url.toString()])
      expect(first.stderr).toBe('')
      expect(first.code).toBe(0)
      expect(first.stdout).toMatch(/applied 0001_initial/)
      const second = await cli(['migrate', '--database-url', url.toString()])
      expect(second.stdout).toMatch(/up to date \(\d+ migrations? already applied\)/)
      const pool = schema.pool()
      const { rows } = await pool.query<{ name: string }>(
        `SELECT table_name AS name FROM information_schema.tables WHERE table_schema = $1`,
        [schema.name],
      )
      expect(rows.map((r) => r.name)).toEqual(
        expect.arrayContaining(['users', 'audit_log', 'schema_migrations']),
      )
    } finally {
      await schema.drop()
    }
  })

  it('an unreachable database is one line, without the password', async () => {
    const result = await cli([
      'migrate',
      '--database-url',
      'postgres://admin:s3cret@127.0.0.1:1/app',
    ])
    expectOneLineError(
      result,
      1,
      /^authframework: 127\.0\.0\.1:1\/app: cannot connect \(ECONNREFUSED\)$/,
    )
    expect(result.stderr).not.toContain('s3cret')
    expectOneLineError(await cli(['migrate']), 2, /--database-url <url> is required/)
    expectOneLineError(await cli(['migrate', '--database-url', 'mysql://x']), 2, /postgres:\/\//)
  })
})

describe('the built binary', () => {
  it(
    'builds with tsc -p tsconfig.build.json and runs dist/cli.js',
    { timeout: 120_000 },
    async () => {
      await promisify(execFile)(
        process.execPath,
        [TSC, '-p', join(PACKAGE, 'tsconfig.build.json')],
        {
          cwd: PACKAGE,
        },
      )
      const head = await readFile(BUILT, 'utf8')
      expect(head.startsWith('#!/usr/bin/env node\n')).toBe(true)
      const built = await cli(['inspect', token], { entry: BUILT })
      expect(built.code).toBe(0)
      expect(built.stdout).toMatch(/^NOT VERIFIED/)
      const verified = await cli(
        ['verify', token, '--key', join(keys, 'jwks.json'), '--aud', 'orders-api'],
        {
          entry: BUILT,
        },
      )
      expect(verified.code).toBe(0)
    },
  )
})
