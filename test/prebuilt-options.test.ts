/**
 * Options beside a prebuilt `createAuth` instance are refused at construction by all three
 * adapters (the check is the core's setupAdapter), instead of being dropped: a dropped `issuer`
 * would accept tokens of any issuer.
 */
import { createAuth } from '@authframework/core'
import { authMiddleware as expressAuth } from '@authframework/express'
import { authPlugin } from '@authframework/fastify'
import { authMiddleware as koaAuth } from '@authframework/koa'
import Fastify from 'fastify'
import { describe, expect, it } from 'vitest'
import { baseOptions } from './support/apps.js'

const auth = createAuth(baseOptions())
const beside = [
  ['a core option', { issuer: 'https://good.example' }, /issuer: a core option cannot be given/],
  ['a misspelt adapter option', { unles: ['/health'] }, /unles: unknown option/],
] as const

describe.each(beside)('%s beside a prebuilt instance', (_, extra, message) => {
  it('Express refuses it', () => {
    expect(() => expressAuth(auth as never, extra as never)).toThrow(TypeError)
    expect(() => expressAuth(auth as never, extra as never)).toThrow(message)
  })

  it('Koa refuses it', () => {
    expect(() => koaAuth(auth as never, extra as never)).toThrow(message)
  })

  it('Fastify refuses it at register', async () => {
    const app = Fastify()
    await expect(app.register(authPlugin, { auth, ...extra } as never).ready()).rejects.toThrow(
      message,
    )
    await app.close()
  })
})

describe('adapter options beside a prebuilt instance', () => {
  it('are applied on every adapter', async () => {
    const app = Fastify()
    await app.register(authPlugin, { auth: auth as never, unless: ['/health'] })
    app.get('/health', async () => 'ok')
    app.get('/me', async () => 'me')
    expect((await app.inject('/health')).statusCode).toBe(200)
    expect((await app.inject('/me')).statusCode).toBe(401)
    await app.close()
    expect(() => expressAuth(auth as never, { unless: ['/health'] })).not.toThrow()
    expect(() =>
      koaAuth(auth as never, { optional: ['/catalog'], errors: 'propagate' }),
    ).not.toThrow()
  })
})
