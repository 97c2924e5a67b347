/** The HTTP contenders and scenarios, shared by the parent (load) and the child (server). */
import type { Framework } from '../ours.js'

export type { Framework }
export const FRAMEWORKS: readonly Framework[] = ['fastify', 'koa', 'express']

export type VariantId =
  | 'bare'
  | 'noop'
  | 'ours'
  | 'ours-nocache'
  | 'peer'
  | 'peer-cache'
  | 'peer-pem'
  | 'ours-perm'
  | 'ours-store'
  | 'ours-store-redis'

/**
 * The variants the in-process views of the HTTP apps (instruction counts, in-memory timing) take
 * in scenario (a): bare, the no-op control, ours and the framework's strongest peer.
 */
export const IN_PROCESS_ONE_TOKEN: Record<Framework, readonly VariantId[]> = {
  fastify: ['bare', 'noop', 'ours', 'peer-cache'],
  koa: ['bare', 'noop', 'ours', 'peer'],
  express: ['bare', 'noop', 'ours', 'peer'],
}

/** …and in scenario (c): ours with and without its cache against the peer without one. */
export const IN_PROCESS_FRESH: readonly VariantId[] = ['bare', 'ours', 'ours-nocache', 'peer']

export const PEER_NAME: Record<Framework, string> = {
  express: 'express-jwt',
  koa: 'koa-jwt',
  fastify: '@fastify/jwt',
}

export const FRAMEWORK_NAME: Record<Framework, string> = {
  express: 'Express 5',
  koa: 'Koa 3',
  fastify: 'Fastify 5',
}

/** A human label for a variant on a framework. */
export function variantLabel(framework: Framework, variant: VariantId): string {
  switch (variant) {
    case 'bare':
      return 'bare'
    case 'noop':
      return 'no-op middleware (control)'
    case 'ours':
      return 'ours'
    case 'ours-nocache':
      return 'ours, cache: false'
    case 'peer':
      return framework === 'fastify'
        ? `${PEER_NAME[framework]} (no cache)`
        : `${PEER_NAME[framework]} (KeyObject)`
    case 'peer-cache':
      return `${PEER_NAME[framework]} (cache)`
    case 'peer-pem':
      return `${PEER_NAME[framework]} (PEM string)`
    case 'ours-perm':
      return 'ours, permissions from the token'
    case 'ours-store':
      return 'ours, store memory → Redis → PG'
    case 'ours-store-redis':
      return 'ours, store Redis → PG (no memory)'
  }
}

export type ScenarioId = 'a' | 'b' | 'c' | 'd' | 'e'

export interface Scenario {
  readonly id: ScenarioId
  readonly title: string
  /** Which token each request carries. */
  readonly tokens: 'one' | 'rotate' | 'fresh' | 'compressed'
  readonly variants: (framework: Framework) => readonly VariantId[]
}

const peers = (f: Framework): VariantId[] => (f === 'fastify' ? ['peer', 'peer-cache'] : ['peer'])

export const SCENARIOS: readonly Scenario[] = [
  {
    id: 'a',
    title: '(a) one valid token, repeated',
    tokens: 'one',
    variants: (f) => [
      'bare',
      'noop',
      'ours',
      ...peers(f),
      ...(f === 'fastify' ? [] : (['peer-pem'] as const)),
    ],
  },
  {
    id: 'b',
    title: '(b) 10,000 distinct valid tokens, rotated',
    tokens: 'rotate',
    variants: (f) => ['bare', 'ours', ...peers(f)],
  },
  {
    id: 'c',
    title: '(c) a new token on every request',
    tokens: 'fresh',
    variants: (f) => ['bare', 'ours', 'ours-nocache', ...peers(f)],
  },
  {
    id: 'd',
    title: '(d) one `compressed:` token, repeated',
    tokens: 'compressed',
    variants: () => ['bare', 'ours'],
  },
  {
    id: 'e',
    title: '(e) permissions from the store, `requirePermission` on the route, rotated tokens, warm',
    tokens: 'rotate',
    // Express and Fastify only (issue brief); Koa runs no variant of (e).
    variants: (f) => (f === 'koa' ? [] : ['bare', 'ours-perm', 'ours-store', 'ours-store-redis']),
  },
]

/** Where the (e) servers find the permission store's services (set up by the parent). */
export interface StoreConfig {
  readonly databaseUrl: string
  readonly schema: string
  readonly redisUrl: string
  readonly keyPrefix: string
}

/** Parent -> child. */
export type Command =
  | { readonly cmd: 'start' }
  | { readonly cmd: 'stop' }
  | { readonly cmd: 'exit' }

/** Child -> parent. */
export type Event =
  | { readonly evt: 'ready'; readonly port: number }
  | { readonly evt: 'failed'; readonly reason: string }
  | { readonly evt: 'started' }
  | {
      readonly evt: 'stopped'
      /** Server CPU (user + system, all threads) over the measured window, µs. */
      readonly cpuUs: number
      readonly requests: number
      readonly rssBytes: number
      readonly heapUsedBytes: number
    }

export interface ServerConfig {
  readonly framework: Framework
  readonly variant: VariantId
  /** RS256 public key, SPKI PEM. */
  readonly publicKeyPem: string
  /** Scenario (e) store variants only. */
  readonly store?: StoreConfig
}
