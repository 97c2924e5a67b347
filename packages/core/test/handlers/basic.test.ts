import { describe, expect, it } from 'vitest'
import { createBasicHandler } from '../../src/handlers/basic.js'
import type { BasicVerify } from '../../src/options/types.js'
import { authErrorOf } from '../helpers.js'

const credentials = { username: 'ada', password: 'correct horse' }

function setup(verify: BasicVerify<{ id: number }>) {
  const handler = createBasicHandler({ verify, resolvePermissions: (context) => context })
  return (request = { id: 1 }) =>
    handler.authenticate({ kind: 'basic', credentials }, { authorization: undefined, request })
}

describe('the Basic handler', () => {
  it('gives verify the credentials and the request, and builds the context', async () => {
    const seen: unknown[] = []
    const run = setup(async (given, request) => {
      seen.push(given, request)
      return { sub: 'ada', permissions: ['a:read'], roles: ['admin'] }
    })
    await expect(run({ id: 7 })).resolves.toEqual({
      sub: 'ada',
      claims: { sub: 'ada' },
      permissions: ['a:read'],
      roles: ['admin'],
    })
    expect(seen).toEqual([credentials, { id: 7 }])
  })

  it('refuses credentials verify does not know (401 credentials_invalid)', async () => {
    expect(await authErrorOf(() => setup(async () => null)())).toMatchObject({
      code: 'credentials_invalid',
      status: 401,
    })
  })

  it('fails closed with 503 when verify throws or answers nonsense', async () => {
    const throwing = setup(async () => {
      throw new Error('db down')
    })
    expect(await authErrorOf(() => throwing())).toMatchObject({
      code: 'auth_unavailable',
      dependency: 'basic',
    })
    expect((await authErrorOf(() => setup(async () => ({ sub: '' }))())).code).toBe(
      'auth_unavailable',
    )
    const malformed = setup(async () => ({ sub: 'ada', permissions: 'a:read' as never }))
    expect((await authErrorOf(() => malformed())).code).toBe('auth_unavailable')
  })
})
