// A CommonJS TypeScript file (module node20 or nodenext, TypeScript 5.8 or later): require() of
// the ESM packages, as Node 20.19+ and 22.12+ allow. Type-checked, never run.
import core = require('@authframework/core')
import expressAdapter = require('@authframework/express')

const signer = core.createSigner({ algorithm: 'ES256' })
const middleware: import('express').RequestHandler = expressAdapter.authMiddleware({
  algorithms: ['ES256'],
  publicKey: signer.publicKey!,
})
export function isAuthError(error: unknown): error is core.AuthError {
  return error instanceof core.AuthError
}
export { middleware }
