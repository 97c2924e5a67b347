import { describe, expect, expectTypeOf, it } from 'vitest'
import {
  createPermissionStore,
  createPostgresPool,
  memoryLayer,
  migrate,
  type PermissionSource,
  POSTGRES_POOL_DEFAULTS,
  postgresSource,
  redisLayer,
} from '../../../src/index.js'

describe('public entry', () => {
  it('exports the permission store API', () => {
    const api = {
      createPermissionStore,
      memoryLayer,
      redisLayer,
      postgresSource,
      migrate,
      createPostgresPool,
    }
    for (const [name, value] of Object.entries(api)) expect(typeof value, name).toBe('function')
    expect(POSTGRES_POOL_DEFAULTS.max).toBe(50)
  })

  it('a store is a PermissionSource', () => {
    const store = createPermissionStore({ source: async () => null })
    expectTypeOf(store).toExtend<PermissionSource>()
    expectTypeOf(createPermissionStore).parameter(0).toHaveProperty('source')
  })
})
