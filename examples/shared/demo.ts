/**
 * The embedded default shared by the three examples: an issuer key generated at start-up (no
 * services, no files), the auth options that trust it, and the lines the demo prints.
 */
import type { KeyObject } from 'node:crypto'
import { createSigner, type Signer } from '@authframework/core'

export const ISSUER = 'https://issuer.example'
export const AUDIENCE = 'orders-api'

export interface Demo {
  readonly signer: Signer
  /** The options that verify the signer's tokens (spread them into createAuth or a middleware). */
  readonly authOptions: { publicKey: KeyObject; issuer: string; audience: string }
}

/** A fresh ES256 issuer and the options that verify its tokens. */
export function createDemo(): Demo {
  const signer = createSigner({
    algorithm: 'ES256',
    issuer: ISSUER,
    audience: AUDIENCE,
    ttlSeconds: 3600,
  })
  return {
    signer,
    authOptions: { publicKey: signer.publicKey!, issuer: ISSUER, audience: AUDIENCE },
  }
}

/** What `pnpm demo` prints: sample tokens and curl lines that show 200, 401 and 403. */
export function demoBanner(demo: Demo, url: string, framework: string): string {
  const reader = demo.signer.sign({ sub: 'user-42', perms: ['orders:read'] })
  const admin = demo.signer.sign({ sub: 'admin-1', perms: ['*'] })
  const many = Array.from({ length: 60 }, (_, i) => `orders:region-${i}:read`)
  const compressed = demo.signer.sign({ sub: 'user-42', perms: ['orders:read', ...many] })
  return `
AuthFramework ${framework} example listening on ${url}

Sample token (sub user-42, perms orders:read, valid 1 hour):
  ${reader}

Try it:
  curl -i ${url}/health                                                     # 200, public
  curl -i ${url}/orders                                                     # 401, no token
  curl -i -H "Authorization: Bearer ${reader}" ${url}/orders   # 200
  curl -i -X POST -H "Authorization: Bearer ${reader}" ${url}/orders   # 403, needs orders:write
  curl -i -H "Authorization: Bearer ${reader}" ${url}/users/user-42/orders   # 200, the owner
  curl -i -H "Authorization: Bearer ${reader}" ${url}/users/user-7/orders    # 403, not the owner
  curl -i -X POST -H "Authorization: Bearer ${admin}" ${url}/orders   # 201, admin has *
  curl -i -H "Authorization: Bearer ${compressed}" ${url}/orders   # 200, a compressed: token
  curl -s ${url}/.well-known/jwks.json                                      # the public keys
`
}
