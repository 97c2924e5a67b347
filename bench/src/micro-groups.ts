/**
 * The micro-benchmark groups, in their own process (plain JavaScript, src/build.ts): uncached
 * verification per algorithm, cache hits, and the permission store's layers, each beside its
 * floor and the peers.
 */
import { createPublicKey, verify } from 'node:crypto'
import { makeProof, proofKey } from '@authframework/test-support/dpop'
import { jwtVerify } from 'jose'
import jsonwebtoken from 'jsonwebtoken'
import { LRUCache } from 'lru-cache'
import { serveOneJob } from './child.js'
import { createFloorCache, createFloorVerifier } from './floor.js'
import {
  type Contender,
  type GroupResult,
  type MicroOptions,
  type Role,
  runGroup,
} from './micro.js'
import { type CoreModule, DEFAULT_CACHE, loadCore, oursOptions } from './ours.js'
import { fastJwt } from './peers.js'
import { openStore, type StoreConfig } from './services.js'
import {
  ALGORITHMS,
  AUDIENCE,
  claimsFor,
  generateKeyMaterial,
  ISSUER,
  signToken,
  signTokens,
} from './tokens.js'

export interface MicroJob {
  readonly options: MicroOptions
  /** The run's scratch schema and key prefix, or why there is none. */
  readonly store: StoreConfig | string
}

export interface MicroResult {
  readonly options: MicroOptions
  readonly groups: readonly GroupResult[]
}

type Skip = { name: string; role: Role; reason: string }
type Run = (input: string) => unknown

const log = (line: string) => process.stdout.write(`${line}\n`)
const isUser = (r: unknown) =>
  !(r instanceof Promise) && String((r as { sub?: unknown } | undefined)?.sub).startsWith('user-')
/** Calls `run` once per input, so that a cache holds every input before timing. */
const each = (inputs: readonly string[], run: Run) => async () => {
  for (const t of inputs) await run(t)
}

/** Contenders over `inputs`; ours only when the core loaded (else skipped with the reason). */
function contenders(core: CoreModule | string, inputs: readonly string[]) {
  const list: Contender[] = []
  const skips: Skip[] = []
  const add = (name: string, role: Role, run: Run, more: Partial<Contender> = {}) =>
    list.push({ name, role, inputs, run, check: isUser, ...more })
  const ours = (name: string, make: (core: CoreModule) => Run, prime = false) => {
    if (typeof core === 'string') return void skips.push({ name, role: 'ours', reason: core })
    const run = make(core)
    add(name, 'ours', run, prime ? { prime: each(inputs, run) } : {})
  }
  return { list, skips, add, ours }
}

/** `auth.authenticate(input)`, the call every adapter makes per request (synchronous here). */
function authenticate(auth: ReturnType<CoreModule['createAuth']>, inputs: readonly string[]): Run {
  const headers = new Map(inputs.map((t) => [t, { authorization: `Bearer ${t}` }]))
  return (t) => auth.authenticate(headers.get(t) as { authorization: string })
}

async function verification(core: CoreModule | string, opts: MicroOptions) {
  const groups: GroupResult[] = []
  const keys = ALGORITHMS.map((alg) => {
    const m = generateKeyMaterial(alg)
    return { alg, m, inputs: signTokens(m, opts.poolSize) }
  })
  for (const { alg, m, inputs } of keys) {
    const c = contenders(core, inputs)
    const fj = fastJwt(m, false)
    const options = { algorithms: [alg], issuer: ISSUER, audience: AUDIENCE }
    c.add('floor (node:crypto)', 'floor', createFloorVerifier(alg, m.verifyKey))
    c.ours('ours (cache: false)', (x) => authenticate(x.createAuth(oursOptions(m, false)), inputs))
    c.add('fast-jwt', 'peer', (t) => fj(t))
    const jose = (r: unknown) => isUser((r as { payload: unknown }).payload)
    c.add('jose jwtVerify', 'peer', (t) => jwtVerify(t, m.verifyKey, options), {
      async: true,
      check: jose,
    })
    if (alg === 'EdDSA')
      c.skips.push({
        name: 'jsonwebtoken',
        role: 'peer',
        reason: 'jsonwebtoken 9 does not support EdDSA',
      })
    else
      c.add('jsonwebtoken', 'peer', (t) =>
        jsonwebtoken.verify(t, m.verifyKey, { ...options, algorithms: [alg as 'RS256'] }),
      )
    const note = `${inputs.length} distinct tokens walked in order; one call at a time (jose awaited).`
    const group = { id: `uncached-${alg}`, title: `Uncached verification, ${alg}`, note }
    groups.push(await runGroup(group, c.list, c.skips, opts, log))
  }
  for (const { alg, m, inputs } of keys.filter((k) => k.alg === 'RS256' || k.alg === 'HS256')) {
    const c = contenders(core, inputs)
    const floor = createFloorCache(createFloorVerifier(alg, m.verifyKey), DEFAULT_CACHE.max)
    const fj = fastJwt(m, DEFAULT_CACHE.max)
    c.add('floor (sha256 + lru get + exp)', 'floor', floor, { prime: each(inputs, floor) })
    c.ours(
      'ours (cache hit)',
      (x) => authenticate(x.createAuth(oursOptions(m, DEFAULT_CACHE)), inputs),
      true,
    )
    c.add('fast-jwt (cache hit)', 'peer', (t) => fj(t), { prime: each(inputs, (t) => fj(t)) })
    const note = `${inputs.length} distinct tokens, all cached before timing (cache max ${DEFAULT_CACHE.max}).`
    const group = { id: `cache-hit-${alg}`, title: `Cache hit, ${alg}`, note }
    groups.push(await runGroup(group, c.list, c.skips, opts, log))
  }
  return groups
}

/**
 * A DPoP request (cached RS256 token, fresh ES256 proof) beside a cached Bearer request: the extra
 * cost of the proof. Its floor is one ES256 verification of the proof with node:crypto.
 */
async function dpop(core: CoreModule | string, opts: MicroOptions) {
  const m = generateKeyMaterial('RS256')
  const key = proofKey('ES256')
  const now = Math.floor(Date.now() / 1000)
  const plain = signTokens(m, opts.poolSize, 0, now)
  const bound = plain.map((_, i) =>
    signToken('RS256', m.signKey, { ...claimsFor(i, now), cnf: { jkt: key.jkt } }),
  )
  const origin = 'https://api.example'
  const proofs = bound.map((token) => makeProof(key, { htu: `${origin}/orders`, iat: now, token }))
  const indexes = plain.map((_, i) => String(i))
  const c = contenders(core, indexes)
  const publicKey = createPublicKey({ key: key.jwk, format: 'jwk' })
  c.add(
    'floor (one ES256 proof verification)',
    'floor',
    (i) => {
      const proof = proofs[Number(i)] as string
      const dot = proof.lastIndexOf('.')
      const signature = Buffer.from(proof.slice(dot + 1), 'base64url')
      const options = { key: publicKey, dsaEncoding: 'ieee-p1363' as const }
      return verify('sha256', Buffer.from(proof.slice(0, dot)), options, signature)
    },
    { check: (r) => r === true },
  )
  // the DPoP request first: the report's summary row is a group's first `ours`
  c.ours(
    'ours, DPoP (token cache hit, fresh proof)',
    (x) => {
      // the harness repeats its inputs, so the replay check is a store that accepts every proof
      const replay = { reserve: () => true }
      const auth = x.createAuth({ ...oursOptions(m, DEFAULT_CACHE), dpop: { origin, replay } })
      const inputs = bound.map((token, i) => ({
        authorization: `DPoP ${token}`,
        method: 'GET',
        url: '/orders',
        headers: { dpop: proofs[i] },
      }))
      return (i) => auth.authenticate(inputs[Number(i)] as (typeof inputs)[number])
    },
    true,
  )
  c.ours(
    'ours, Bearer (cache hit)',
    (x) => {
      const run = authenticate(x.createAuth(oursOptions(m, DEFAULT_CACHE)), plain)
      return (i) => run(plain[Number(i)] as string)
    },
    true,
  )
  const note = `${indexes.length} distinct RS256 tokens, cached before timing; ES256 proofs from one client key; replay store: one that accepts every proof (the memory store adds a Map lookup and set, Redis a round trip).`
  const group = { id: 'dpop', title: 'DPoP request over a cached Bearer request', note }
  return runGroup(group, c.list, c.skips, opts, log)
}

const LAYERS = [
  ['memory', 'ours, memory hit (memory → Redis → PostgreSQL)'],
  ['redis', 'ours, Redis hit (no memory layer)'],
  ['none', 'ours, PostgreSQL (no cache layer)'],
] as const

/** Permission lookups per layer of the core's store, beside an awaited lru-cache get. */
async function permissions(core: CoreModule | string, job: MicroJob) {
  const group = {
    id: 'permissions',
    title: 'Permission store lookups (Redis and PostgreSQL on 127.0.0.1)',
    note: 'The core’s `createPermissionStore` over the run’s scratch schema; hits primed before timing; one lookup at a time, awaited. Floor: the same record from an `lru-cache` get in an async function.',
  }
  const users = Array.from({ length: job.options.poolSize }, (_, i) => `user-${i + 1}`)
  const c = contenders(core, users)
  const why =
    typeof core === 'string' ? core : typeof job.store === 'string' ? job.store : undefined
  if (why !== undefined || typeof core === 'string') {
    const skips = LAYERS.map(([, name]) => ({ name, role: 'ours' as const, reason: why as string }))
    return runGroup(group, [], skips, job.options, log)
  }
  const check = (r: unknown) => Array.isArray((r as { permissions?: unknown } | null)?.permissions)
  const lru = new LRUCache<string, { permissions: string[] }>({ max: 50_000 })
  for (const u of users) lru.set(u, { permissions: ['orders:read', 'profile:read'] })
  const stores = await Promise.all(
    LAYERS.map(([layers]) => openStore(core, job.store as StoreConfig, layers)),
  )
  try {
    c.add('floor (lru-cache get, awaited)', 'floor', async (u) => lru.get(u), {
      async: true,
      check,
    })
    LAYERS.forEach(([layers, name], i) => {
      const run: Run = (u) => stores[i]?.store.lookup(u)
      c.add(name, 'ours', run, {
        async: true,
        check,
        ...(layers === 'none' ? {} : { prime: each(users, run) }),
      })
    })
    return await runGroup(group, c.list, [], job.options, log)
  } finally {
    await Promise.allSettled(stores.map((s) => s.close()))
  }
}

serveOneJob(async (job: MicroJob): Promise<{ result: MicroResult }> => {
  const core = await loadCore().catch((error: Error) => error.message)
  if (typeof core === 'string') log(`  ours skipped: ${core}`)
  const groups = [
    ...(await verification(core, job.options)),
    await dpop(core, job.options),
    await permissions(core, job),
  ]
  return { result: { options: job.options, groups } }
})
