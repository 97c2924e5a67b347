/**
 * Starts one server process of a multi-process test: a TypeScript entry under
 * `test/support/`, run by tsx, configured through one environment variable (JSON), answering its
 * port over IPC as `{ port }`.
 */
import { type ChildProcess, fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { createSigner } from '@authframework/core'
import { DATABASE_URL } from '@authframework/test-support/services'
import type { InstanceConfig } from './instance.js'

const ISSUER = 'https://issuer.example'
const AUDIENCE = 'orders-api'

/** Signs the tokens every instance of `instance.ts` and `coherence-instance.ts` trusts. */
export const instanceSigner = createSigner({
  algorithm: 'ES256',
  issuer: ISSUER,
  audience: AUDIENCE,
})

/** The configuration of one instance on the test schema, trusting {@link instanceSigner}. */
export function instanceConfig(
  name: string,
  shared: { readonly schema: string; readonly redisUrl: string; readonly keyPrefix: string },
): InstanceConfig {
  return {
    name,
    databaseUrl: DATABASE_URL,
    ...shared,
    publicKeyPem: instanceSigner.publicKey!.export({ type: 'spki', format: 'pem' }) as string,
    issuer: ISSUER,
    audience: AUDIENCE,
  }
}

export interface ForkedInstance {
  readonly child: ChildProcess
  readonly port: number
}

/**
 * Forks `script` (a file name in this folder) with `config` in `env[variable]`; resolves once it
 * listens, rejects when it exits first or has not answered within 20 s.
 *
 * @example
 * const { child, port } = await forkInstance('instance.ts', 'AF_INSTANCE', 'A', config)
 */
export function forkInstance(
  script: string,
  variable: string,
  name: string,
  config: unknown,
): Promise<ForkedInstance> {
  const child = fork(fileURLToPath(new URL(`./${script}`, import.meta.url)), [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, [variable]: JSON.stringify(config) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start within 20 s`)), 20_000)
    child.once('exit', (code) => reject(new Error(`${name} exited with ${code}`)))
    child.once('message', (message: { port: number }) => {
      clearTimeout(timer)
      resolve({ child, port: message.port })
    })
  })
}
