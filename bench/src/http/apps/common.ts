/** What every app module shares: the route body, the request counter and ours' options. */
import { DEFAULT_CACHE, type Framework, loadAdapter } from '../../ours.js'
import { AUDIENCE, ISSUER } from '../../tokens.js'
import type { ServerConfig, VariantId } from '../variants.js'

/** The small JSON every variant returns from `GET /`. */
export const BODY = Object.freeze({ hello: 'world' })

/**
 * What the no-op control middleware attaches to each request: the cost of one middleware layer
 * that sets the same property ours sets, with no work behind it.
 */
export const NOOP_AUTH = Object.freeze({
  sub: 'noop',
  claims: Object.freeze({}),
  permissions: Object.freeze([]),
})

/** Requests served by the route handler since the last reset. */
export const counter = { requests: 0 }

export interface Listening {
  readonly port: number
  close(): Promise<void>
}

/** Builds the app for a config and starts listening on 127.0.0.1, ephemeral port. */
export type BuildApp = (cfg: ServerConfig) => Promise<Listening>

export const isOurs = (v: VariantId) => v === 'ours' || v === 'ours-nocache'

/** Options for ours' adapters: RS256 with issuer and audience, cache on or off. */
export function oursAdapterOptions(cfg: ServerConfig) {
  return {
    algorithms: ['RS256'],
    publicKey: cfg.publicKeyPem,
    issuer: ISSUER,
    audience: AUDIENCE,
    cache: cfg.variant === 'ours-nocache' ? false : DEFAULT_CACHE,
  }
}

/** The adapter's exported factory, or a thrown reason when it is not there yet. */
export async function oursAdapter<T>(framework: Framework): Promise<T> {
  const loaded = await loadAdapter(framework)
  if (!loaded.ok) throw new Error(loaded.reason)
  return loaded.value as T
}
