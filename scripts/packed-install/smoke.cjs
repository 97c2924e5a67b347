// CommonJS smoke test: the same checks through require() (Node's require(esm)); one copy of the
// modules, so `instanceof AuthError` holds across both ways of loading.
const { createSigner, AuthError } = require('@authframework/core')
const expressAdapter = require('@authframework/express')
const koaAdapter = require('@authframework/koa')
const fastifyAdapter = require('@authframework/fastify')
const honoAdapter = require('@authframework/hono')
const nestAdapter = require('@authframework/nestjs')
const { frameworks, smoke } = require('./smoke-shared.cjs')

async function run() {
  const imported = await import('@authframework/core')
  if (imported.AuthError !== AuthError) throw new Error('require and import load two copies')
  await smoke(
    { createSigner, expressAdapter, koaAdapter, fastifyAdapter, honoAdapter, nestAdapter },
    frameworks(),
    'cjs',
  )
}
run().catch((error) => {
  console.error(error)
  process.exitCode = 1
})
