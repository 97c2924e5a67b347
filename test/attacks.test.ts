/**
 * Attacks from adversarial testing, run as an attacker would, over HTTP through Express, Koa and
 * Fastify: re-signed variants of a revoked token, oversized Basic credentials, and introspected
 * answers reused past what the introspection settings allow.
 */
import { createHmac, generateKeyPairSync, type KeyObject, sign } from 'node:crypto'
import { type Algorithm, createAuth, createMemoryRevocationList } from '@authframework/core'
import {
  activeAnswer,
  type IntrospectionServer,
  startIntrospectionServer,
} from '@authframework/test-support/introspection-server'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ADAPTERS, type AdapterName, type RunningApp, startApp } from './support/apps.js'
import { AUDIENCE, compress, ISSUER, NOW } from './support/tokens.js'

const clock = () => NOW * 1000
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
const bearer = (t: string): [string, string][] => [['Authorization', `Bearer ${t}`]]
const revokedAnswer = {
  status: 401,
  code: 'token_revoked',
  www: 'Bearer realm="api", error="invalid_token", error_description="The token has been revoked."',
}

/** The order n of each curve's base point: (r, n − s) is a second valid ECDSA signature. */
const CURVES = {
  ES256: {
    curve: 'prime256v1',
    hash: 'sha256',
    n: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
  },
  ES384: {
    curve: 'secp384r1',
    hash: 'sha384',
    n: 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n,
  },
  ES512: {
    curve: 'secp521r1',
    hash: 'sha512',
    n: 0x01fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409n,
  },
} as const
type EcAlg = keyof typeof CURVES

interface Signing {
  readonly alg: Algorithm
  readonly kid: string
  readonly privateKey: KeyObject | Buffer
  readonly publicKey?: KeyObject
}

const ec = (alg: EcAlg): Signing => {
  const pair = generateKeyPairSync('ec', { namedCurve: CURVES[alg].curve })
  return { alg, kid: alg, ...pair }
}
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
const ed = generateKeyPairSync('ed25519')
const ASYMMETRIC: Signing[] = [
  ec('ES256'),
  ec('ES384'),
  ec('ES512'),
  { alg: 'EdDSA', kid: 'ed', ...ed },
  { alg: 'RS256', kid: 'rsa', ...rsa },
  { alg: 'PS256', kid: 'rsa', ...rsa },
]
const HMAC: Signing = { alg: 'HS256', kid: 'hs', privateKey: Buffer.alloc(32, 7) }

/** A fresh signature over `input` with the key (ECDSA and PSS: a different one every time). */
function signInput(key: Signing, input: string): string {
  const data = Buffer.from(input)
  const alg = key.alg
  let signature: Buffer
  if (alg === 'HS256')
    signature = createHmac('sha256', key.privateKey as Buffer)
      .update(data)
      .digest()
  else if (alg === 'EdDSA') signature = sign(null, data, key.privateKey as KeyObject)
  else if (alg in CURVES)
    signature = sign(CURVES[alg as EcAlg].hash, data, {
      key: key.privateKey as KeyObject,
      dsaEncoding: 'ieee-p1363',
    })
  else
    signature = sign('sha256', data, {
      key: key.privateKey as KeyObject,
      ...(alg === 'PS256' ? { padding: 6, saltLength: 32 } : {}), // RSA_PKCS1_PSS_PADDING
    })
  return signature.toString('base64url')
}

let serial = 0
function tokenFor(key: Signing): string {
  const input = `${b64({ alg: key.alg, kid: key.kid, typ: 'JWT' })}.${b64({
    sub: 'user-1',
    iss: ISSUER,
    aud: AUDIENCE,
    iat: NOW - 10,
    exp: NOW + 600,
    jti: `t-${++serial}`, // each token is new: no revocation by jti or sub is in play
    perms: ['orders:read'],
  })}`
  return `${input}.${signInput(key, input)}`
}

/** The same token with its ECDSA signature changed from (r, s) to (r, n − s): no key needed. */
function highS(jwt: string, alg: EcAlg): string {
  const dot = jwt.lastIndexOf('.')
  const raw = Buffer.from(jwt.slice(dot + 1), 'base64url')
  const half = raw.length / 2
  const s = BigInt(`0x${raw.subarray(half).toString('hex')}`)
  const flipped = Buffer.from((CURVES[alg].n - s).toString(16).padStart(half * 2, '0'), 'hex')
  return `${jwt.slice(0, dot)}.${Buffer.concat([raw.subarray(0, half), flipped]).toString('base64url')}`
}

/** A fresh signature over the same header and payload, as the key holder would make it. */
function reSigned(jwt: string, key: Signing): string {
  const input = jwt.slice(0, jwt.lastIndexOf('.'))
  return `${input}.${signInput(key, input)}`
}

const keyOptions = (keys: readonly Signing[]) => ({
  algorithms: [...new Set(keys.map((k) => k.alg))],
  // one entry per key: RS256 and PS256 share the RSA key
  keys: [...new Map(keys.map((k) => [k.kid, k])).values()].map((k) =>
    k.publicKey === undefined
      ? { kid: k.kid, secret: k.privateKey }
      : { kid: k.kid, publicKey: k.publicKey },
  ),
  issuer: ISSUER,
  audience: AUDIENCE,
  clock,
})

describe.each(ADAPTERS)(
  'revocation by token survives re-signing, through %s',
  (adapter: AdapterName) => {
    const apps: Record<
      'asymmetric' | 'hmac',
      { app: RunningApp; revoker: ReturnType<typeof createAuth> }
    > = {} as never
    beforeAll(async () => {
      for (const [name, keys] of [
        ['asymmetric', ASYMMETRIC],
        ['hmac', [HMAC]],
      ] as const) {
        const revocation = createMemoryRevocationList({ clock })
        apps[name] = {
          app: await startApp(adapter, { ...keyOptions(keys), revocation }),
          // the application's logout: another instance of the same configuration, sharing the list
          revoker: createAuth({ ...keyOptions(keys), revocation }),
        }
      }
    })
    afterAll(async () => {
      for (const { app, revoker } of Object.values(apps)) {
        await app.close()
        await revoker.close()
      }
    })

    const expectRevoked = async (app: RunningApp, jwt: string, label: string) => {
      const res = await app.request('/me', bearer(jwt))
      expect(res.status, `${label}: ${res.text}`).toBe(revokedAnswer.status)
      expect(res.body).toMatchObject({ code: revokedAnswer.code })
      expect(res.headers['www-authenticate']).toBe(revokedAnswer.www)
    }

    it.each(Object.keys(CURVES) as EcAlg[])(
      '%s: the (r, n − s) twin of a revoked token is refused, cached or not',
      async (alg) => {
        const { app, revoker } = apps.asymmetric
        const key = ASYMMETRIC.find((k) => k.alg === alg)!
        const original = tokenFor(key)
        const twin = highS(original, alg)
        const late = highS(tokenFor(key), alg) // a second token, whose twin is first seen after revoke
        expect(twin).not.toBe(original)
        // both verify: the attack needs no key, and the cache now holds both
        expect((await app.request('/me', bearer(original))).status).toBe(200)
        expect((await app.request('/me', bearer(twin))).status).toBe(200)
        await revoker.revoke({ token: original })
        await expectRevoked(app, original, 'original')
        await expectRevoked(app, twin, 'cached twin')
        await expectRevoked(app, compress(twin), 'compressed twin')
        await expectRevoked(app, reSigned(original, key), 'fresh signature')
        // revoking by the twin revokes the original too
        await revoker.revoke({ token: late })
        await expectRevoked(app, highS(late, alg), 'uncached twin')
      },
    )

    it.each(ASYMMETRIC.filter((k) => !(k.alg in CURVES)).map((k) => [k.alg, k] as const))(
      '%s: a re-signature of a revoked token by the key holder is refused',
      async (_, key) => {
        const { app, revoker } = apps.asymmetric
        const original = tokenFor(key)
        expect((await app.request('/me', bearer(original))).status).toBe(200)
        await revoker.revoke({ token: reSigned(original, key) })
        await expectRevoked(app, original, 'original')
        await expectRevoked(app, reSigned(original, key), 'fresh signature')
        await expectRevoked(app, compress(original), 'compressed')
      },
    )

    it('HS256: every encoding of a revoked token is refused', async () => {
      const { app, revoker } = apps.hmac
      const original = tokenFor(HMAC)
      expect((await app.request('/me', bearer(original))).status).toBe(200)
      await revoker.revoke({ token: ` ${original.slice(0, 20)}\n${original.slice(20)} ` })
      await expectRevoked(app, original, 'original')
      await expectRevoked(app, compress(original), 'compressed')
      // another token of the same user is not affected
      expect((await app.request('/me', bearer(tokenFor(HMAC)))).status).toBe(200)
    })
  },
)

describe.each(ADAPTERS)('Basic credentials over the length cap, through %s', (adapter) => {
  let app: RunningApp
  const seen: number[] = []
  beforeAll(async () => {
    app = await startApp(adapter, {
      ...keyOptions([HMAC]),
      basic: {
        verify: async ({ password }: { password: string }) => {
          seen.push(password.length)
          return null
        },
      },
    })
  })
  afterAll(() => app.close())

  it.each([
    ['a 12 KB password', 'alice', 'p'.repeat(9000)],
    ['a 12 KB user name', 'a'.repeat(9000), 'x'],
  ])(
    '%s is refused (401 credentials_invalid) before the verifier runs',
    async (_, user, password) => {
      seen.length = 0
      const header = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`
      expect(header.length).toBeGreaterThan(12_000)
      const res = await app.request('/me', [['Authorization', header]])
      expect(res.status, res.text).toBe(401)
      expect(res.body).toMatchObject({ code: 'credentials_invalid' })
      expect(res.headers['www-authenticate']).toBe('Basic realm="api", charset="UTF-8"')
      expect(res.text).not.toContain('ppppppppppppppp')
      expect(seen).toEqual([])
    },
  )

  it('credentials just under the cap still reach the verifier', async () => {
    seen.length = 0
    const header = `Basic ${Buffer.from(`alice:${'p'.repeat(6000)}`).toString('base64')}`
    expect((await app.request('/me', [['Authorization', header]])).status).toBe(401)
    expect(seen).toEqual([6000])
  })
})

describe.each(ADAPTERS)(
  'introspected answers are reused only as the introspection settings say, through %s',
  (adapter) => {
    let server: IntrospectionServer
    let active = true
    let now = NOW * 1000
    const opaque = 'opaque-token-of-user-1'
    const running: RunningApp[] = []
    beforeAll(async () => {
      server = await startIntrospectionServer(() => ({
        json: active
          ? activeAnswer(Math.floor(now / 1000), 3600, {
              sub: 'user-1',
              iss: ISSUER,
              aud: AUDIENCE,
            })
          : { active: false },
      }))
    })
    afterAll(async () => {
      for (const app of running) await app.close()
      await server.close()
    })

    const start = async (cache: unknown) => {
      active = true
      const app = await startApp(adapter, {
        ...keyOptions([HMAC]),
        clock: () => now,
        introspection: { endpoint: server.url, clientId: 'api', clientSecret: 's3cret', cache },
      })
      running.push(app)
      return app
    }

    it('cache: false: every request is introspected; inactive is refused at once', async () => {
      const app = await start(false)
      const before = server.calls.length
      expect((await app.request('/me', bearer(opaque))).status).toBe(200)
      expect((await app.request('/me', bearer(opaque))).status).toBe(200)
      expect(server.calls.length - before).toBe(2)
      active = false
      const res = await app.request('/me', bearer(opaque))
      expect(res.status, res.text).toBe(401)
      expect(res.body).toMatchObject({ code: 'token_invalid' })
      expect(server.calls.length - before).toBe(3)
    })

    it('maxTtlSeconds: 1: an answer is reused for one second, not for the verification cache TTL', async () => {
      const app = await start({ maxTtlSeconds: 1 })
      const before = server.calls.length
      expect((await app.request('/me', bearer(`${opaque}-2`))).status).toBe(200)
      active = false
      expect((await app.request('/me', bearer(`${opaque}-2`))).status).toBe(200) // within its second
      expect(server.calls.length - before).toBe(1)
      now += 1000
      const res = await app.request('/me', bearer(`${opaque}-2`))
      expect(res.status, res.text).toBe(401)
      expect(res.body).toMatchObject({ code: 'token_invalid' })
      expect(server.calls.length - before).toBe(2)
    })
  },
)
