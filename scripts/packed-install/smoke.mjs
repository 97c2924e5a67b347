// ESM smoke test of the installed tarballs: every supported framework major answers 200, 401 and
// 403 like the contract says. Run by scripts/packed-install.sh in an app outside the workspace.
import { createSigner } from '@authframework/core'
import * as expressAdapter from '@authframework/express'
import * as fastifyAdapter from '@authframework/fastify'
import * as honoAdapter from '@authframework/hono'
import * as koaAdapter from '@authframework/koa'
import * as nestAdapter from '@authframework/nestjs'
import { frameworks, smoke } from './smoke-shared.cjs'

const { AuthError } = await import('@authframework/core')
if (expressAdapter.AuthError !== AuthError) throw new Error('two copies of AuthError')
await smoke(
  { createSigner, expressAdapter, koaAdapter, fastifyAdapter, honoAdapter, nestAdapter },
  frameworks(),
  'esm',
)
