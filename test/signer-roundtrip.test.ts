/**
 * Every token `createSigner` issues verifies through every adapter configured for the same key:
 * each algorithm, as a plain compact JWT and as a `compressed:` one (opted into, above its threshold).
 */
import { type Algorithm, createSigner } from '@authframework/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ADAPTERS, type RunningApp, startApp } from './support/apps.js'

const ISS = 'https://issuer.example'
const AUD = 'orders-api'
const SECRET = 'a-hmac-secret-for-the-round-trip-test-0123456789'
const ALGORITHMS: Algorithm[] = ['RS256', 'ES256', 'EdDSA', 'PS256', 'HS256']
const many = Array.from({ length: 80 }, (_, i) => `orders:region-${i}:read`)

describe.each(ALGORITHMS)('sign → verify: %s', (algorithm) => {
  const hmac = algorithm === 'HS256'
  const signer = createSigner(
    hmac
      ? { algorithm, secret: SECRET, issuer: ISS, audience: AUD, compressAboveBytes: 1024 }
      : { algorithm, issuer: ISS, audience: AUD, compressAboveBytes: 1024 },
  )
  const plain = signer.sign({ sub: 'user-1', perms: ['orders:read'] })
  const compressed = signer.sign({ sub: 'user-1', perms: ['orders:read', ...many] })
  const apps: RunningApp[] = []

  beforeAll(async () => {
    const keys = hmac ? { secret: SECRET } : { publicKey: signer.publicKey }
    for (const adapter of ADAPTERS) {
      apps.push(
        await startApp(adapter, { algorithms: [algorithm], ...keys, issuer: ISS, audience: AUD }),
      )
    }
  })
  afterAll(() => Promise.all(apps.map((app) => app.close())))

  it('issues a plain token below the threshold and a compressed one above it', () => {
    expect(plain.startsWith('compressed:')).toBe(false)
    expect(compressed.startsWith('compressed:')).toBe(true)
  })

  it.each(ADAPTERS.map((name, i) => [name, i] as const))('%s accepts both', async (_name, i) => {
    for (const token of [plain, compressed]) {
      const res = await apps[i]!.request('/orders', [['Authorization', `Bearer ${token}`]])
      expect(res.status, res.text).toBe(200)
      expect(res.body).toMatchObject({ auth: { sub: 'user-1' } })
    }
  })
})
