/**
 * Loads AuthFramework ("ours") through its public entries only. A package that fails to load or
 * lacks the export is reported with the reason (and the run exits non-zero) instead of crashing
 * the whole benchmark. The imports are literal so that the bundler (src/build.ts) compiles ours
 * into the measured processes as plain JavaScript, as users run it.
 */
import type { KeyMaterial } from './tokens.js'
import { AUDIENCE, ISSUER } from './tokens.js'

/** The part of the core API the benchmark uses. */
export interface OursAuth {
  verify(token: string): Promise<{ readonly sub: string }>
  /** What the adapters call per request: synchronous when nothing needs I/O (static keys, no store). */
  authenticate(input: {
    readonly authorization: string
  }): { readonly sub: string } | Promise<{ readonly sub: string }>
}

export interface OursOptions {
  readonly algorithms: readonly string[]
  readonly publicKey?: string
  readonly secret?: string
  readonly issuer: string
  readonly audience: string
  readonly cache: false | { readonly max: number; readonly maxTtlSeconds: number }
}

export interface OursCore {
  createAuth(options: OursOptions): OursAuth
}

export type Framework = 'express' | 'koa' | 'fastify'

/** What each adapter must export for the HTTP benchmark. */
const ADAPTER_EXPORT: Record<Framework, string> = {
  express: 'authMiddleware',
  koa: 'authMiddleware',
  fastify: 'authPlugin',
}

type Module = Record<string, unknown>

function importAdapter(framework: Framework): Promise<Module> {
  switch (framework) {
    case 'express':
      return import('@authframework/express') as Promise<Module>
    case 'koa':
      return import('@authframework/koa') as Promise<Module>
    case 'fastify':
      return import('@authframework/fastify') as Promise<Module>
  }
}

export type Loaded<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly reason: string }

function describe(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error)
  return message.split('\n')[0]?.slice(0, 160) ?? 'unknown error'
}

/** The core's `createAuth`, or why it cannot be benchmarked yet. */
export async function loadCore(): Promise<Loaded<OursCore>> {
  try {
    const mod = (await import('@authframework/core')) as Module
    if (typeof mod.createAuth !== 'function') {
      return { ok: false, reason: '@authframework/core does not export createAuth yet' }
    }
    return { ok: true, value: mod as unknown as OursCore }
  } catch (error) {
    return { ok: false, reason: `@authframework/core cannot be loaded: ${describe(error)}` }
  }
}

/** A framework adapter's entry point (`authMiddleware` or `authPlugin`), or why not. */
export async function loadAdapter(framework: Framework): Promise<Loaded<unknown>> {
  const name = ADAPTER_EXPORT[framework]
  try {
    const mod = await importAdapter(framework)
    const value = mod[name]
    if (typeof value !== 'function') {
      return { ok: false, reason: `@authframework/${framework} does not export ${name} yet` }
    }
    return { ok: true, value }
  } catch (error) {
    return { ok: false, reason: `@authframework/${framework} cannot be loaded: ${describe(error)}` }
  }
}

/** The cache setting used everywhere unless a benchmark says otherwise. */
export const DEFAULT_CACHE = { max: 10_000, maxTtlSeconds: 300 } as const

/** Options for `createAuth` / the adapters for one key, with or without the verification cache. */
export function oursOptions(
  material: KeyMaterial,
  cache: OursOptions['cache'] = DEFAULT_CACHE,
): OursOptions {
  const key =
    material.alg === 'HS256' ? { secret: material.secret } : { publicKey: material.verifyPem }
  return { algorithms: [material.alg], ...key, issuer: ISSUER, audience: AUDIENCE, cache }
}

/** Verifies once and checks the subject, so a misconfigured contender fails loudly, not fast. */
export async function smokeCheck(
  auth: OursAuth,
  token: string,
  expectedSub: string,
): Promise<void> {
  const result = await auth.verify(token)
  if (result.sub !== expectedSub) throw new Error(`ours returned sub ${String(result.sub)}`)
}

/**
 * `auth.authenticate` as the adapters call it, given what a framework hands it: the Authorization
 * header as the request carries it, built once per token (Node parses it once per request).
 */
export function authenticateRunner(
  auth: OursAuth,
  tokens: readonly string[],
): (token: string) => ReturnType<OursAuth['authenticate']> {
  const inputs = new Map(tokens.map((t) => [t, { authorization: `Bearer ${t}` }]))
  return (t) => auth.authenticate(inputs.get(t) as { authorization: string })
}
