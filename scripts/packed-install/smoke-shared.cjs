// The checks both smoke tests run: per framework major, a token with the permission (200),
// none (401 with a Bearer challenge), one without the permission (403).
const assert = require('node:assert/strict')
const fs = require('node:fs')
const http = require('node:http')
const path = require('node:path')
const { startHono, startNest } = require('./smoke-more.cjs')

/** Every supported major, by the module name it is installed under in the app. */
function frameworks() {
  return [
    ['express', 'express', 5],
    ['express', 'express4', 4],
    ['koa', 'koa', 3],
    ['koa', 'koa2', 2],
    ['fastify', 'fastify', 5],
    ['fastify', 'fastify4', 4],
    ['hono', 'hono', 4],
    ['nestjs-express', '@nestjs/platform-express', 11],
    ['nestjs-fastify', '@nestjs/platform-fastify', 11],
  ].map(([kind, name, major]) => ({ kind, name, major, module: require(name) }))
}

const OPTIONS = { issuer: 'https://issuer.example', audience: 'orders-api' }

async function listen(server) {
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  return `http://127.0.0.1:${server.address().port}`
}

/** A package's version, also of one whose `exports` hide its package.json (Hono). */
function versionOf(name) {
  try {
    return require(`${name}/package.json`).version
  } catch {}
  for (let dir = path.dirname(require.resolve(name)); dir !== path.dirname(dir); ) {
    const file = path.join(dir, 'package.json')
    if (fs.existsSync(file) && JSON.parse(fs.readFileSync(file, 'utf8')).name === name) {
      return JSON.parse(fs.readFileSync(file, 'utf8')).version
    }
    dir = path.dirname(dir)
  }
  throw new Error(`no package.json of ${name}`)
}

async function start(kind, framework, adapters, publicKey) {
  const options = { algorithms: ['RS256'], publicKey, ...OPTIONS }
  if (kind === 'hono') return startHono(adapters.honoAdapter, options)
  if (kind.startsWith('nestjs')) return startNest(adapters.nestAdapter, framework, options)
  if (kind === 'express') {
    const { authMiddleware, requirePermission } = adapters.expressAdapter
    const app = framework()
    app.use(authMiddleware(options))
    app.get('/orders', requirePermission('orders:read'), (req, res) =>
      res.json({ sub: req.auth.sub }),
    )
    const server = http.createServer(app)
    return { url: await listen(server), close: () => server.close() }
  }
  if (kind === 'koa') {
    const { authMiddleware, requirePermission } = adapters.koaAdapter
    const app = new framework()
    app.use(authMiddleware(options))
    app.use(requirePermission('orders:read'))
    app.use((ctx) => {
      ctx.body = { sub: ctx.state.auth.sub }
    })
    const server = http.createServer(app.callback())
    return { url: await listen(server), close: () => server.close() }
  }
  const { authPlugin } = adapters.fastifyAdapter
  const app = framework()
  await app.register(authPlugin, options)
  app.get('/orders', { preHandler: app.requirePermission('orders:read') }, async (request) => ({
    sub: request.auth.sub,
  }))
  await app.listen({ port: 0, host: '127.0.0.1' })
  return { url: `http://127.0.0.1:${app.server.address().port}`, close: () => app.close() }
}

async function smoke(adapters, list, label) {
  const signer = adapters.createSigner({ algorithm: 'RS256', ...OPTIONS })
  const granted = signer.sign({ sub: 'user-42', perms: ['orders:read'] })
  const denied = signer.sign({ sub: 'user-43', perms: ['orders:write'] })
  for (const { kind, name, major, module: framework } of list) {
    const version = versionOf(name)
    assert.equal(Number(version.split('.')[0]), major, `${name} is ${version}`)
    const app = await start(kind, framework, adapters, signer.publicKey)
    try {
      const ok = await fetch(`${app.url}/orders`, {
        headers: { authorization: `Bearer ${granted}` },
      })
      assert.equal(ok.status, 200)
      assert.deepEqual(await ok.json(), { sub: 'user-42' })
      const anonymous = await fetch(`${app.url}/orders`)
      assert.equal(anonymous.status, 401)
      assert.match(anonymous.headers.get('www-authenticate') ?? '', /^Bearer/)
      const forbidden = await fetch(`${app.url}/orders`, {
        headers: { authorization: `Bearer ${denied}` },
      })
      assert.equal(forbidden.status, 403)
      assert.equal((await forbidden.json()).code, 'permission_denied')
    } finally {
      await app.close()
    }
    console.log(`ok ${label} ${kind} ${version}`)
  }
}

module.exports = { frameworks, smoke }
