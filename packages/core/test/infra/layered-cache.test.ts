/**
 * The layered cache the permission store, the session store and the strict revocation check share:
 * single flight, batching, write-back, stale loads, servability, failing layers and sources, the
 * change log, read-only layers and the lifecycle. Fake layers record every call.
 */
import { describe, expect, it, vi } from 'vitest'
import type { ChangeListener, ChangeLog } from '../../src/infra/change-log.js'
import {
  type CacheSource,
  createLayeredCache,
  type InvalidationListener,
  type Layer,
  type LayeredCacheOptions,
} from '../../src/infra/layered-cache.js'

type Value = { readonly v: string }

/** A process-local layer over a Map: answers synchronously. */
function localLayer(name = 'memory') {
  const data = new Map<string, Value | null>()
  const calls: string[] = []
  const layer: Layer<Value> & { data: typeof data; calls: string[] } = {
    name,
    shared: false,
    data,
    calls,
    getSync: (id) => data.get(id),
    getMany: (ids) => ids.map((id) => data.get(id)),
    setMany(entries) {
      calls.push(`set ${entries.map(([id]) => id).join(',')}`)
      for (const [id, value] of entries) data.set(id, value)
    },
    delete(id) {
      calls.push(`delete ${id}`)
      data.delete(id)
    },
    clear: () => data.clear(),
  }
  return layer
}

/** A shared layer whose writes can be held until `release()`. */
function sharedLayer() {
  const data = new Map<string, Value | null>()
  const reads: string[][] = []
  const calls: string[] = []
  const held: Array<() => void> = []
  let hold = false
  let failReads = false
  let listener: InvalidationListener | undefined
  const layer = {
    name: 'redis',
    shared: true,
    data,
    reads,
    calls,
    followed: undefined as ChangeLog | undefined,
    holdWrites(on: boolean) {
      hold = on
    },
    failReads(on: boolean) {
      failReads = on
    },
    release() {
      for (const resolve of held.splice(0)) resolve()
    },
    tell: () => listener!,
    async getMany(ids: readonly string[]) {
      reads.push([...ids])
      if (failReads) throw new Error('redis down')
      return ids.map((id) => data.get(id))
    },
    async setMany(entries: ReadonlyArray<readonly [string, Value | null]>) {
      if (hold) await new Promise<void>((resolve) => held.push(resolve))
      calls.push(`set ${entries.map(([id]) => id).join(',')}`)
      for (const [id, value] of entries) data.set(id, value)
    },
    async delete(id: string) {
      calls.push(`delete ${id}`)
      data.delete(id)
    },
    subscribe(l: InvalidationListener) {
      listener = l
      return () => {
        listener = undefined
      }
    },
    followChanges(log: ChangeLog) {
      layer.followed = log
    },
    ready: vi.fn(async () => {}),
    close: vi.fn(async () => {}),
  } satisfies Layer<Value> & Record<string, unknown>
  return layer
}

/** A source over a Map, counting calls; `gate` holds every answer until opened. */
function fakeSource(values: Record<string, Value | null>, batch = true) {
  const lookups: string[] = []
  const batches: string[][] = []
  let gate: Promise<void> = Promise.resolve()
  let open: () => void = () => {}
  let failing: Error | undefined
  const source: CacheSource<Value> & {
    lookups: string[]
    batches: string[][]
    close(): void
    open(): void
    fail(error: Error | undefined): void
  } = {
    lookups,
    batches,
    close() {
      gate = new Promise((resolve) => {
        open = resolve
      })
    },
    open: () => open(),
    fail(error) {
      failing = error
    },
    async lookup(id) {
      lookups.push(id)
      await gate
      if (failing) throw failing
      return values[id] ?? null
    },
  }
  if (batch) {
    source.lookupMany = async (ids) => {
      batches.push([...ids])
      await gate
      if (failing) throw failing
      return new Map(ids.map((id) => [id, values[id] ?? null]))
    }
  }
  return source
}

function build(overrides: Partial<LayeredCacheOptions<Value>> & { layers: Layer<Value>[] }) {
  const reports: string[] = []
  const cache = createLayeredCache<Value>({
    source: fakeSource({}),
    maxBatchSize: 100,
    report: (error, layer, operation) =>
      reports.push(`${layer}:${operation}:${(error as Error).message}`),
    ...overrides,
  })
  return { cache, reports }
}

const a: Value = Object.freeze({ v: 'a' })
const b: Value = Object.freeze({ v: 'b' })
const tick = () => new Promise((resolve) => setTimeout(resolve, 0))

describe('createLayeredCache', () => {
  it('shares one load among concurrent reads of a key, and one source call among the keys of a tick', async () => {
    const source = fakeSource({ a, b })
    const memory = localLayer()
    const { cache } = build({ layers: [memory], source })
    const answers = await Promise.all([
      cache.get('a'),
      cache.get('a'),
      cache.get('b'),
      cache.get('x'),
    ])
    expect(answers).toEqual([a, a, b, null])
    expect(source.batches).toEqual([['a', 'b', 'x']])
    expect(source.lookups).toEqual([])
    // written back, the absent key as a negative entry
    expect([...memory.data]).toEqual([
      ['a', a],
      ['b', b],
      ['x', null],
    ])
    expect(cache.peek('a')).toBe(a)
    expect(await cache.get('x')).toBeNull()
    expect(source.batches).toHaveLength(1)
  })

  it('reads each async layer once per tick and writes what it found only to the layers above it', async () => {
    const source = fakeSource({ a, b })
    const memory = localLayer()
    const redis = sharedLayer()
    redis.data.set('a', a)
    const { cache } = build({ layers: [memory, redis], source })
    expect(await Promise.all([cache.get('a'), cache.get('b')])).toEqual([a, b])
    expect(redis.reads).toEqual([['a', 'b']])
    expect(source.batches).toEqual([])
    expect(source.lookups).toEqual(['b']) // one key left: the single lookup
    await tick()
    expect(memory.calls).toEqual(['set a', 'set b'])
    expect(redis.calls).toEqual(['set b'])
  })

  it('splits a tick into batches of maxBatchSize', async () => {
    const source = fakeSource({})
    const { cache } = build({ layers: [], source, maxBatchSize: 2 })
    await Promise.all(['1', '2', '3', '4', '5'].map((id) => cache.get(id)))
    expect(source.batches).toEqual([
      ['1', '2'],
      ['3', '4'],
    ])
    expect(source.lookups).toEqual(['5'])
  })

  it('a key dropped while its load runs answers the callers but writes nothing back', async () => {
    const source = fakeSource({ a })
    const memory = localLayer()
    const redis = sharedLayer()
    const { cache } = build({ layers: [memory, redis], source })
    source.close()
    const pending = cache.get('a')
    await tick()
    cache.drop('a')
    source.open()
    expect(await pending).toBe(a)
    await tick()
    expect(memory.data.has('a')).toBe(false)
    expect(redis.data.has('a')).toBe(false)
    expect(redis.calls).toEqual([])
    // the next read is a new load
    expect(await cache.get('a')).toBe(a)
    expect(source.lookups).toEqual(['a', 'a'])
  })

  it('takes back a shared write that was on its way when the key was dropped', async () => {
    const source = fakeSource({ a })
    const redis = sharedLayer()
    const { cache } = build({ layers: [localLayer(), redis], source })
    redis.holdWrites(true)
    expect(await cache.get('a')).toBe(a) // answered before the write lands
    cache.drop('a')
    redis.release()
    await vi.waitFor(() => expect(redis.calls).toEqual(['set a', 'delete a']))
    expect(redis.data.has('a')).toBe(false)
  })

  it('a copy that may not be served is read again below, and the fresher value written back', async () => {
    const source = fakeSource({ a: b })
    const memory = localLayer()
    memory.data.set('a', a)
    const { cache } = build({
      layers: [memory],
      source,
      servable: (value) => value === null || value.v !== 'a',
    })
    expect(cache.peek('a')).toBeUndefined()
    expect(await cache.get('a')).toBe(b)
    expect(memory.data.get('a')).toBe(b)
    expect(cache.peek('a')).toBe(b)
  })

  it('a failing layer is reported and skipped; a failing source rejects every caller of its batch', async () => {
    const source = fakeSource({ a })
    const redis = sharedLayer()
    redis.failReads(true)
    const { cache, reports } = build({ layers: [redis], source })
    expect(await cache.get('a')).toBe(a)
    expect(reports).toEqual(['redis:read:redis down'])
    const down = new Error('postgres down')
    source.fail(down)
    const outcomes = await Promise.allSettled([cache.get('b'), cache.get('c')])
    expect(outcomes.map((o) => o.status === 'rejected' && o.reason)).toEqual([down, down])
    // the failure is not cached: the next read tries again
    source.fail(undefined)
    expect(await cache.get('b')).toBeNull()
  })

  it('without lookupMany, one failing key rejects only its own callers', async () => {
    const values: Record<string, Value | null> = { a }
    const source = fakeSource(values, false)
    const lookup = source.lookup
    source.lookup = async (id) => {
      if (id === 'bad') throw new Error('bad row')
      return lookup(id)
    }
    const { cache } = build({ layers: [], source })
    const [good, bad] = await Promise.allSettled([cache.get('a'), cache.get('bad')])
    expect(good).toEqual({ status: 'fulfilled', value: a })
    expect(bad.status).toBe('rejected')
  })

  it('a read-only layer (no setMany) is read but never written', async () => {
    const source = fakeSource({ a })
    const readOnly: Layer<Value> = {
      name: 'redis',
      shared: true,
      getMany: async (ids) => ids.map(() => undefined),
    }
    const { cache } = build({ layers: [readOnly], source })
    expect(await cache.get('a')).toBe(a)
  })

  it('drops what another instance invalidated, and everything local when the channel was re-established', async () => {
    const memory = localLayer()
    const redis = sharedLayer()
    build({ layers: [memory, redis] })
    memory.data.set('a', a)
    memory.data.set('b', b)
    redis.tell().invalidated('a')
    expect([...memory.data.keys()]).toEqual(['b'])
    redis.tell().reset()
    expect(memory.data.size).toBe(0)
  })

  it('with a change log: shared layers follow it, and a change heard drops the key here', async () => {
    const listeners = new Map<string, ChangeListener>()
    const log = {
      subscribe(topic: string, listener: ChangeListener) {
        listeners.set(topic, listener)
        return () => listeners.delete(topic)
      },
    } as unknown as ChangeLog
    const memory = localLayer()
    const redis = sharedLayer()
    const { cache } = build({ layers: [memory, redis], changes: { log, topic: 'sessions' } })
    expect(redis.followed).toBe(log)
    memory.data.set('a', a)
    listeners.get('sessions')!('a', 7)
    expect(memory.data.has('a')).toBe(false)
    await cache.close()
    expect(listeners.size).toBe(0)
  })

  it('after trouble with a shared layer, its copies are misses until a read of the change log begun after it completes', async () => {
    let polls = 0
    let finishPoll: () => void = () => {}
    const log = {
      subscribe: () => () => {},
      poll() {
        polls++
        return new Promise<number>((resolve) => {
          finishPoll = () => resolve(polls)
        })
      },
    } as unknown as ChangeLog
    const redis = sharedLayer()
    const source = fakeSource({ a: b })
    const { cache } = build({ layers: [redis], source, changes: { log, topic: 'permissions' } })
    redis.data.set('a', a) // the old copy
    expect(await cache.get('a')).toBe(a) // no trouble yet: the copy is served, the log is not read
    expect(polls).toBe(0)

    redis.failReads(true)
    expect(await cache.get('a')).toBe(b) // the source answers
    await tick()
    redis.data.set('a', a) // its write-back was lost: the old copy is still there
    redis.failReads(false)
    expect(await cache.get('a')).toBe(b) // Redis answers again, but the log has not been read since
    expect(await cache.get('a')).toBe(b)
    expect(polls).toBe(1) // one catch-up read at a time

    redis.tell().reset() // more trouble while the catch-up read runs: it is not enough
    finishPoll()
    await tick()
    expect(await cache.get('a')).toBe(b)
    expect(polls).toBe(2)
    finishPoll()
    await tick()
    redis.data.set('a', a)
    expect(await cache.get('a')).toBe(a) // caught up: copies are served again (their stamps judge them)
    expect(polls).toBe(2)
  })

  it('eachShared runs on shared layers only and resolves the first failure; close waits for writes, then closes the layers', async () => {
    const memory = localLayer()
    const redis = sharedLayer()
    const { cache, reports } = build({ layers: [memory, redis], source: fakeSource({ a }) })
    const touched: string[] = []
    const failure = await cache.eachShared('invalidate', async (layer) => {
      touched.push(layer.name)
      throw new Error('nope')
    })
    expect(touched).toEqual(['redis'])
    expect((failure as Error).message).toBe('nope')
    expect(reports).toEqual(['redis:invalidate:nope'])

    redis.holdWrites(true)
    await cache.get('a')
    let closed = false
    const closing = cache.close().then(() => {
      closed = true
    })
    await tick()
    expect(closed).toBe(false) // the write to Redis is still on its way
    redis.release()
    await closing
    expect(redis.data.get('a')).toBe(a)
    expect(redis.close).toHaveBeenCalledOnce()
  })
})
