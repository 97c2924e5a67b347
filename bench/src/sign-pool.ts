/** Signs large token pools on every core, in child processes. */
import { fork } from 'node:child_process'
import { availableParallelism } from 'node:os'
import { type KeyMaterial, signTokens } from './tokens.js'

/** The tsx loader, so that child processes run the TypeScript sources as they are. */
export const TSX = import.meta.resolve('tsx')

/**
 * Signs `count` distinct tokens (subjects `first` .. `first + count - 1`). Asymmetric pools of
 * more than a few thousand tokens are split across one child process per core; small pools and
 * HS256 are signed inline.
 */
export async function signPool(material: KeyMaterial, count: number, first = 0): Promise<string[]> {
  const nowSeconds = Math.floor(Date.now() / 1000)
  const procs = Math.max(1, availableParallelism())
  if (material.alg === 'HS256' || count < 4000 || procs === 1) {
    return signTokens(material, count, first, nowSeconds)
  }
  const per = Math.ceil(count / procs)
  const parts = await Promise.all(
    Array.from({ length: procs }, (_, p) => {
      const start = p * per
      const n = Math.max(0, Math.min(per, count - start))
      return new Promise<string[]>((resolve, reject) => {
        const child = fork(new URL('./sign-child.ts', import.meta.url), [], {
          execArgv: ['--import', TSX],
          serialization: 'advanced',
          stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        })
        child.once('message', (tokens) => resolve(tokens as string[]))
        child.once('error', reject)
        child.once('exit', (code) => {
          if (code !== 0) reject(new Error(`token signer exited with code ${code}`))
        })
        child.send({
          alg: material.alg,
          signPem: material.signPem,
          first: first + start,
          count: n,
          nowSeconds,
        })
      })
    }),
  )
  return parts.flat()
}
