/** Argon2id hashing: PHC strings, rehash on parameter change, the dummy path, off the event loop. */
import * as argon2 from '@node-rs/argon2'
import { beforeEach, describe, expect, it, vi } from 'vitest'
import {
  createPasswordHasher,
  hashPassword,
  MAX_PASSWORD_BYTES,
  OWASP_ARGON2ID,
  parseArgon2idHash,
  verifyPassword,
} from '../../src/login/index.js'

// The real module, with its `verify` observed (not replaced).
vi.mock('@node-rs/argon2', async (importOriginal) => {
  const real = await importOriginal<typeof import('@node-rs/argon2')>()
  return { ...real, verify: vi.fn(real.verify), hash: vi.fn(real.hash) }
})

const PASSWORD = 'correct horse battery staple'
/** Cheap parameters for the "old hash" of the rehash tests. */
const WEAK = { memoryKiB: 4096, iterations: 1, parallelism: 1 }

beforeEach(() => {
  vi.mocked(argon2.verify).mockClear()
})

describe('hashPassword / verifyPassword', () => {
  it('round-trips and stores the OWASP parameters in a PHC string', async () => {
    const stored = await hashPassword(PASSWORD)
    expect(stored).toMatch(
      /^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/,
    )
    expect(parseArgon2idHash(stored)).toEqual(OWASP_ARGON2ID)
    expect(await verifyPassword(stored, PASSWORD)).toEqual({ ok: true, needsRehash: false })
    expect(await verifyPassword(stored, `${PASSWORD}!`)).toEqual({ ok: false, needsRehash: false })
  })

  it('salts every hash', async () => {
    const [a, b] = await Promise.all([hashPassword(PASSWORD), hashPassword(PASSWORD)])
    expect(a).not.toBe(b)
  })

  it('normalizes to NFKC, so equivalent spellings match', async () => {
    const stored = await hashPassword('ﬁsh-Å') // U+FB01 ligature, U+212B angstrom sign
    expect((await verifyPassword(stored, 'fish-Å')).ok).toBe(true)
  })

  it('refuses empty and oversized passwords without echoing them', async () => {
    const long = 'x'.repeat(MAX_PASSWORD_BYTES + 1)
    await expect(hashPassword('')).rejects.toThrow(TypeError)
    const error = (await hashPassword(long).catch((e: unknown) => e)) as Error
    expect(error).toBeInstanceOf(TypeError)
    expect(error.message).not.toContain('xxxx')
    const stored = await hashPassword(PASSWORD)
    expect(await verifyPassword(stored, long)).toEqual({ ok: false, needsRehash: false })
    expect(argon2.verify).toHaveBeenCalledTimes(1) // still one verification
  })

  it('runs at most maxConcurrent computations at once; the others queue', async () => {
    const hasher = createPasswordHasher({ maxConcurrent: 2 })
    const stored = await hasher.hash(PASSWORD)
    const real = vi.mocked(argon2.verify).getMockImplementation()!
    let running = 0
    let peak = 0
    vi.mocked(argon2.verify).mockImplementation(async (...args) => {
      running += 1
      peak = Math.max(peak, running)
      try {
        return await real(...args)
      } finally {
        running -= 1
      }
    })
    try {
      const results = await Promise.all(
        Array.from({ length: 6 }, () => hasher.verify(stored, PASSWORD)),
      )
      expect(results.every((r) => r.ok)).toBe(true)
      expect(peak).toBe(2)
    } finally {
      vi.mocked(argon2.verify).mockImplementation(real)
    }
    expect(() => createPasswordHasher({ maxConcurrent: 0 })).toThrow(/maxConcurrent/)
  })

  it('runs off the event loop', async () => {
    let ticked = false
    setImmediate(() => {
      ticked = true
    })
    await hashPassword(PASSWORD)
    expect(ticked).toBe(true)
  })
})

describe('rehash', () => {
  it('reports needsRehash when the stored parameters differ from the current ones', async () => {
    const old = await createPasswordHasher({ params: WEAK }).hash(PASSWORD)
    expect(old).toContain('$m=4096,t=1,p=1$')
    expect(await verifyPassword(old, PASSWORD)).toEqual({ ok: true, needsRehash: true })
    // a wrong password never asks for a rehash
    expect(await verifyPassword(old, 'nope')).toEqual({ ok: false, needsRehash: false })
  })

  it('reports it when the parameters are raised, and not for hashes already at the new ones', async () => {
    const current = await hashPassword(PASSWORD)
    const raised = createPasswordHasher({ params: { memoryKiB: 47_104, iterations: 1 } })
    expect(await raised.verify(current, PASSWORD)).toEqual({ ok: true, needsRehash: true })
    const fresh = await raised.hash(PASSWORD)
    expect(fresh).toContain('$m=47104,t=1,p=1$')
    expect(await raised.verify(fresh, PASSWORD)).toEqual({ ok: true, needsRehash: false })
    expect(raised.needsRehash(fresh)).toBe(false)
    expect(raised.needsRehash('$2b$10$bcrypt-looking')).toBe(true)
  })

  it('checks parameters at construction', () => {
    expect(() => createPasswordHasher({ params: { memoryKiB: 4 } })).toThrow(/memoryKiB/)
    expect(() => createPasswordHasher({ params: { iterations: 0 } })).toThrow(/iterations/)
    expect(() => createPasswordHasher({ params: { parallelism: 1.5 } })).toThrow(/parallelism/)
  })
})

describe('unknown users take the same path', () => {
  it('the dummy hash is made when the hasher is created, not by the first unknown user', async () => {
    vi.mocked(argon2.hash).mockClear()
    const hasher = createPasswordHasher()
    // nothing asked for it yet: the hasher started it on its own
    await vi.waitFor(() => expect(argon2.hash).toHaveBeenCalledTimes(1))
    const dummy = await hasher.dummyHash()
    expect(await hasher.verify(null, PASSWORD)).toEqual({ ok: false, needsRehash: false })
    expect(argon2.hash).toHaveBeenCalledTimes(1)
    expect(vi.mocked(argon2.verify).mock.calls.map((c) => c[0])).toEqual([dummy])
  })

  it('verifies against the dummy hash when there is no stored hash', async () => {
    const hasher = createPasswordHasher()
    const dummy = await hasher.dummyHash()
    expect(parseArgon2idHash(dummy)).toEqual(OWASP_ARGON2ID)
    vi.mocked(argon2.verify).mockClear()
    expect(await hasher.verify(null, PASSWORD)).toEqual({ ok: false, needsRehash: false })
    expect(await hasher.verify(undefined, PASSWORD)).toEqual({ ok: false, needsRehash: false })
    expect(argon2.verify).toHaveBeenCalledTimes(2)
    for (const call of vi.mocked(argon2.verify).mock.calls) expect(call[0]).toBe(dummy)
  })

  it('also for a malformed stored hash, and the dummy hash is made once', async () => {
    const hasher = createPasswordHasher()
    expect(await hasher.verify('not-a-hash', PASSWORD)).toEqual({ ok: false, needsRehash: false })
    expect(await hasher.verify('$argon2id$v=19$m=1,t=1,p=1$', PASSWORD)).toEqual({
      ok: false,
      needsRehash: false,
    })
    const dummy = await hasher.dummyHash()
    expect(await hasher.dummyHash()).toBe(dummy)
    expect(vi.mocked(argon2.verify).mock.calls.map((c) => c[0])).toEqual([dummy, dummy])
  })

  it('a known user costs one verification of the stored hash', async () => {
    const stored = await hashPassword(PASSWORD)
    vi.mocked(argon2.verify).mockClear()
    await verifyPassword(stored, 'wrong')
    expect(vi.mocked(argon2.verify).mock.calls.map((c) => c[0])).toEqual([stored])
  })
})
