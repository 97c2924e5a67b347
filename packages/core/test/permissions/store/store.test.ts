/** The read-through chain over a function source and memory layer: no services needed. */
import { describe, expect, it, vi } from 'vitest'
import { AuthError, AuthUnavailableError, UserInactiveError } from '../../../src/errors.js'
import {
  type CacheLayer,
  createPermissionStore,
  memoryLayer,
} from '../../../src/permissions/store/index.js'
import type { PermissionRecord } from '../../../src/types.js'

function deferred<T>() {
  let resolve!: (value: T) => void
  let reject!: (error: unknown) => void
  const promise = new Promise<T>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

const grants = (id: string): PermissionRecord => ({
  permissions: [`${id}:read`],
  roles: ['member'],
})

describe('createPermissionStore over a function source', () => {
  it('reads through, then answers from memory with a frozen record', async () => {
    const source = vi.fn(async (id: string) => (id === 'ghost' ? null : grants(id)))
    const store = createPermissionStore({ source })
    const first = await store.lookup('u1')
    expect(first).toEqual({ permissions: ['u1:read'], roles: ['member'] })
    expect(Object.isFrozen(first)).toBe(true)
    expect(await store.lookup('u1')).toBe(first)
    expect(source).toHaveBeenCalledTimes(1)
  })

  it('lookupMaybeSync answers a memory hit as is, and otherwise as lookup does', async () => {
    const source = vi.fn(async (id: string) => (id === 'ghost' ? null : grants(id)))
    const store = createPermissionStore({ source })
    const miss = store.lookupMaybeSync('u1')
    expect(miss).toBeInstanceOf(Promise) // not in memory yet: the source answers
    const record = await miss
    expect(store.lookupMaybeSync('u1')).toBe(record)
    await store.lookup('ghost')
    expect(store.lookupMaybeSync('ghost')).toBeNull() // cached as unknown or inactive
    expect(store.lookupMaybeSync('a\0b')).toBeNull() // no user can have it: no source call
    expect(source).toHaveBeenCalledTimes(2)
    await expect(store.lookupMaybeSync(42 as unknown as string)).rejects.toBeInstanceOf(TypeError)
    await store.close()
    await expect(store.lookupMaybeSync('u1')).rejects.toMatchObject({ code: 'auth_unavailable' })
  })

  it('shares one load among concurrent lookups of one user (single flight)', async () => {
    const source = vi.fn(async (id: string) => grants(id))
    const store = createPermissionStore({ source })
    const answers = await Promise.all(Array.from({ length: 100 }, () => store.lookup('u1')))
    expect(source).toHaveBeenCalledTimes(1)
    expect(new Set(answers).size).toBe(1)
  })

  it('batches the cold lookups of one tick into one lookupMany call', async () => {
    const lookupMany = vi.fn(
      async (ids: readonly string[]) => new Map(ids.map((id) => [id, grants(id)])),
    )
    const lookup = vi.fn(async (id: string) => grants(id))
    const store = createPermissionStore({ source: { lookup, lookupMany }, maxBatchSize: 60 })
    const ids = Array.from({ length: 100 }, (_, i) => `user-${i}`)
    const answers = await Promise.all(ids.map((id) => store.lookup(id)))
    expect(answers.map((a) => a?.permissions[0])).toEqual(ids.map((id) => `${id}:read`))
    expect(lookup).not.toHaveBeenCalled()
    expect(lookupMany.mock.calls.map(([batch]) => batch.length)).toEqual([60, 40]) // maxBatchSize
  })

  it('caches an unknown or inactive user as such (negative caching) and answers null', async () => {
    let now = 1_700_000_000_000
    const source = vi.fn(async () => null)
    const store = createPermissionStore({
      source,
      layers: [memoryLayer({ negativeTtlSeconds: 30, clock: () => now })],
    })
    expect(await store.lookup('ghost')).toBeNull()
    expect(await store.lookup('ghost')).toBeNull()
    expect(source).toHaveBeenCalledTimes(1)
    now += 30_001
    expect(await store.lookup('ghost')).toBeNull()
    expect(source).toHaveBeenCalledTimes(2)
  })

  it('fails closed: a failing source rejects with auth_unavailable (503), and nothing is cached', async () => {
    const source = vi.fn(async () => {
      throw new Error('connect ECONNREFUSED')
    })
    const store = createPermissionStore({ source })
    const error = await store.lookup('u1').catch((e: unknown) => e)
    expect(error).toBeInstanceOf(AuthUnavailableError)
    expect(error).toMatchObject({
      status: 503,
      code: 'auth_unavailable',
      headers: { 'retry-after': '1' },
    })
    expect((error as Error).cause).toBeInstanceOf(Error)
    source.mockResolvedValueOnce(grants('u1') as never)
    expect(await store.lookup('u1')).toEqual(grants('u1'))
  })

  it('fails closed on a malformed answer, and passes an AuthError from the source through', async () => {
    const malformed = createPermissionStore({
      source: async () => ({ permissions: '*' }) as unknown as PermissionRecord,
    })
    await expect(malformed.lookup('u1')).rejects.toMatchObject({ code: 'auth_unavailable' })
    const inactive = new UserInactiveError()
    const passing = createPermissionStore({
      source: async () => {
        throw inactive
      },
    })
    await expect(passing.lookup('u1')).rejects.toBe(inactive)
  })

  it('answers null for ids no user can have, without asking the source', async () => {
    const source = vi.fn(async (id: string) => grants(id))
    const store = createPermissionStore({ source })
    expect(await store.lookup('\uD800')).toBeNull()
    expect(await store.lookup('a\0b')).toBeNull()
    expect(source).not.toHaveBeenCalled()
    await expect(store.lookup(42 as unknown as string)).rejects.toBeInstanceOf(TypeError)
  })

  it('does not cache what an in-flight load read before an invalidation (generation)', async () => {
    const pending = deferred<PermissionRecord | null>()
    const source = vi
      .fn()
      .mockReturnValueOnce(pending.promise)
      .mockResolvedValue({ permissions: ['new'] })
    const store = createPermissionStore({ source })
    const before = store.lookup('u1')
    await vi.waitFor(() => expect(source).toHaveBeenCalledTimes(1))
    await store.invalidate('u1')
    const after = store.lookup('u1') // must not join the stale flight
    pending.resolve({ permissions: ['old'] })
    expect(await before).toEqual({ permissions: ['old'] }) // started before: gets what it read
    expect(await after).toEqual({ permissions: ['new'] })
    expect(await store.lookup('u1')).toEqual({ permissions: ['new'] })
    expect(source).toHaveBeenCalledTimes(2)
  })

  it('treats a failing layer as a miss and reports it', async () => {
    const failing: CacheLayer = {
      name: 'broken',
      shared: true,
      get: () => Promise.reject(new Error('down')),
      getMany: () => Promise.reject(new Error('down')),
      set: () => Promise.reject(new Error('down')),
      setMany: () => Promise.reject(new Error('down')),
      delete: () => Promise.reject(new Error('down')),
    }
    const onError = vi.fn()
    const store = createPermissionStore({
      source: async (id) => grants(id),
      layers: [failing],
      onError,
    })
    expect(await store.lookup('u1')).toEqual(grants('u1'))
    await vi.waitFor(() =>
      expect(onError.mock.calls.map(([, context]) => context.operation)).toEqual(['read', 'write']),
    )
    const error = await store.invalidate('u1').catch((e: unknown) => e)
    expect(error).toBeInstanceOf(AuthError)
    expect(error).toMatchObject({ code: 'auth_unavailable' })
  })

  it('rejects bad configuration at construction, naming the option', () => {
    expect(() => createPermissionStore({} as never)).toThrow(/source/)
    expect(() => createPermissionStore({ source: async () => null, layers: {} as never })).toThrow(
      /layers/,
    )
    expect(() =>
      createPermissionStore({ source: async () => null, layers: [{} as never] }),
    ).toThrow(/layers\[0\]/)
    expect(() => createPermissionStore({ source: async () => null, maxBatchSize: 0 })).toThrow(
      /maxBatchSize/,
    )
  })

  it('fails closed after close()', async () => {
    const store = createPermissionStore({ source: async (id) => grants(id) })
    await store.close()
    await expect(store.lookup('u1')).rejects.toMatchObject({ code: 'auth_unavailable' })
  })
})
