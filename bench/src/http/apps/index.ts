/** The app module of one framework, loaded alone (with its peer), for the server children. */
import type { Framework } from '../variants.js'
import type { BuildApp } from './common.js'

export async function loadBuilder(framework: Framework): Promise<BuildApp> {
  const { build }: { build: BuildApp } =
    framework === 'express'
      ? await import('./express.js')
      : framework === 'koa'
        ? await import('./koa.js')
        : await import('./fastify.js')
  return build
}
