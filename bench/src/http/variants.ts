/** The HTTP apps: frameworks, variants and the two scenarios, shared by parents and children. */
import type { Framework } from '../ours.js'
import type { StoreConfig } from '../services.js'

export type { Framework }
export const FRAMEWORKS: readonly Framework[] = ['fastify', 'koa', 'express', 'hono', 'nestjs']

export const FRAMEWORK_NAME: Record<Framework, string> = {
  express: 'Express 5',
  koa: 'Koa 3',
  fastify: 'Fastify 5',
  hono: 'Hono 4',
  nestjs: 'NestJS 11 (Express)',
}

export const PEER_NAME: Record<Framework, string> = {
  express: 'express-jwt (KeyObject)',
  koa: 'koa-jwt (KeyObject)',
  fastify: '@fastify/jwt (its cache)',
  hono: 'hono/jwt (WebCrypto)',
  nestjs: '@nestjs/passport + passport-jwt',
}

/**
 * Scenario (a), one valid token repeated: bare, a no-op middleware (the control), ours, the
 * framework's strongest peer. Scenario (e), permissions on the route
 * (`requirePermission('orders:read')`) with the tokens rotated: ours reading them from the token,
 * ours from the store (memory → Redis → PostgreSQL, warm). Bare does not read the header, so its
 * one run per round is the baseline of both scenarios.
 */
export const VARIANTS = ['bare', 'noop', 'ours', 'peer', 'ours-perm', 'ours-store'] as const
export type VariantId = (typeof VARIANTS)[number]
export const SCENARIO_A: readonly VariantId[] = ['noop', 'ours', 'peer']
export const SCENARIO_E: readonly VariantId[] = ['ours-perm', 'ours-store']

/** Which tokens a variant's requests carry: one token, or the rotated pool. */
export const rotates = (v: VariantId): boolean => SCENARIO_E.includes(v)

export function variantLabel(framework: Framework, variant: VariantId): string {
  return {
    bare: 'bare',
    noop: 'no-op middleware (control)',
    ours: 'ours',
    peer: PEER_NAME[framework],
    'ours-perm': '(e) ours, permissions from the token',
    'ours-store': '(e) ours, permission store (memory hit)',
  }[variant]
}

/** What a server or in-memory child builds. */
export interface AppConfig {
  readonly framework: Framework
  readonly variant: VariantId
  /** RS256 public key, SPKI PEM. */
  readonly publicKeyPem: string
  /** `ours-store` only: the run's scratch schema and key prefix. */
  readonly store?: StoreConfig
}

/** Parent -> server child, after the config. */
export type Command = { readonly cmd: 'start' | 'stop' | 'exit' }

/** Server child -> parent. */
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
    }
