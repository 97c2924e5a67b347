/**
 * Registering the Fastify plugin: once per scope. A second registration in the same scope or a
 * child scope fails `register` with a message that says what to do; sibling encapsulated scopes
 * each authenticate their own routes with their own options.
 */
import { authPlugin } from '@authframework/fastify'
import Fastify from 'fastify'
import { describe, expect, it } from 'vitest'
import { AUDIENCE, NOW, publicPem, token } from './support/tokens.js'

const options = (issuer: string) =>
  ({
    algorithms: ['RS256'],
    publicKey: publicPem,
    issuer,
    audience: AUDIENCE,
    clock: () => NOW * 1000,
  }) as never

const MESSAGE =
  'authPlugin: already registered in this scope or a parent scope. For several issuers, register it once with `issuers`'

describe('registering authPlugin', () => {
  it('twice in one scope: a clear TypeError, not FST_ERR_DEC_ALREADY_PRESENT', async () => {
    const app = Fastify()
    await app.register(authPlugin, options('https://a.example'))
    await expect(app.register(authPlugin, options('https://b.example'))).rejects.toThrow(MESSAGE)
    await app.close()
  })

  it('in a child of a scope that has it: the same TypeError', async () => {
    const app = Fastify()
    await app.register(authPlugin, options('https://a.example'))
    await expect(
      app.register(async (child) => {
        await child.register(authPlugin, options('https://b.example'))
      }),
    ).rejects.toThrow(MESSAGE)
    await app.close()
  })

  it('in sibling scopes: each scope authenticates its routes with its own options', async () => {
    const app = Fastify()
    for (const [prefix, issuer] of [
      ['/a', 'https://a.example'],
      ['/b', 'https://b.example'],
    ] as const) {
      await app.register(async (scope) => {
        await scope.register(authPlugin, options(issuer))
        scope.get(`${prefix}/me`, async (request) => ({ iss: request.auth?.claims.iss }))
      })
    }
    const get = (url: string, iss: string) =>
      app.inject({ url, headers: { authorization: `Bearer ${token({ claims: { iss } })}` } })
    expect((await get('/a/me', 'https://a.example')).json()).toEqual({ iss: 'https://a.example' })
    expect((await get('/b/me', 'https://b.example')).json()).toEqual({ iss: 'https://b.example' })
    const crossed = await get('/a/me', 'https://b.example')
    expect(crossed.statusCode).toBe(401)
    expect(crossed.headers['www-authenticate']).toBe(
      'Bearer realm="api", error="invalid_token", error_description="The iss claim does not match."',
    )
    await app.close()
  })
})
