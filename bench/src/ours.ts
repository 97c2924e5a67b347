/**
 * AuthFramework ("ours") through its public entries only. The imports are literal so that the
 * bundler (src/build.ts) compiles ours into the measured processes as plain JavaScript, as users
 * run it. A package that fails to load is reported with the reason (and the run exits 1), never
 * a crash of the whole run.
 */
import type * as Core from '@authframework/core'
import { AUDIENCE, ISSUER, type KeyMaterial } from './tokens.js'

export type CoreModule = typeof Core
export type Framework = 'express' | 'koa' | 'fastify' | 'hono' | 'nestjs'

/** The cache setting used everywhere unless a benchmark says otherwise. */
export const DEFAULT_CACHE = { max: 10_000, maxTtlSeconds: 300 } as const

/** The first line of an error's message. */
export function reason(error: unknown): string {
  const e = error as { message?: string; errors?: { message?: string }[] }
  return String(e?.message || e?.errors?.[0]?.message || error).split('\n')[0] as string
}

/** The core module; rejects with the reason it cannot be loaded. */
export async function loadCore(): Promise<CoreModule> {
  try {
    return await import('@authframework/core')
  } catch (error) {
    throw new Error(`@authframework/core cannot be loaded: ${reason(error)}`)
  }
}

/** A framework adapter's module; rejects with the reason it cannot be loaded. */
export async function loadAdapter(framework: Framework): Promise<Record<string, unknown>> {
  try {
    if (framework === 'express') return await import('@authframework/express')
    if (framework === 'koa') return await import('@authframework/koa')
    if (framework === 'hono') return await import('@authframework/hono')
    if (framework === 'nestjs') return await import('@authframework/nestjs')
    return await import('@authframework/fastify')
  } catch (error) {
    throw new Error(`@authframework/${framework} cannot be loaded: ${reason(error)}`)
  }
}

/** `createAuth` options for one key: issuer and audience checked, cache on or off. */
export function oursOptions(m: KeyMaterial, cache: false | { max: number; maxTtlSeconds: number }) {
  const key = m.alg === 'HS256' ? { secret: m.secret as string } : { publicKey: m.verifyPem }
  return { algorithms: [m.alg], ...key, issuer: ISSUER, audience: AUDIENCE, cache }
}
