import { defineConfig } from 'vitest/config'

/**
 * The Redis integration tests that run a second time against a local Redis Cluster (project
 * `cluster`, `AF_REDIS_TARGET=cluster`): the same files, each asking test support for "the Redis
 * of this run". `*.cluster.test.ts` files run in that project only.
 */
const CLUSTER_TESTS = [
  'packages/core/test/permissions/store/redis-layer.int.test.ts',
  'packages/core/test/permissions/store/chain.int.test.ts',
  'packages/core/test/revocation/distributed.int.test.ts',
  'packages/core/test/sessions/store.int.test.ts',
  'packages/core/test/login/rate-limit.int.test.ts',
  'packages/core/test/introspection/redis.int.test.ts',
  'packages/*/test/**/*.cluster.test.ts',
  'test/multi-instance.int.test.ts',
]

export default defineConfig({
  test: {
    testTimeout: 20_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // CI (.ci/run) asks for a JSON report too, to print its closing "N passed, N failed" line
    reporters: process.env.VITEST_JSON_REPORT
      ? ['default', ['json', { outputFile: process.env.VITEST_JSON_REPORT }]]
      : ['default'],
    projects: [
      {
        extends: true,
        test: {
          name: 'redis',
          include: [
            'packages/*/test/**/*.test.ts',
            'test/**/*.test.ts',
            'examples/*/test/**/*.test.ts',
            'bench/test/**/*.test.ts',
          ],
          exclude: ['**/node_modules/**', '**/*.cluster.test.ts'],
          typecheck: {
            enabled: true,
            include: ['**/*.test-d.ts'],
            tsconfig: './tsconfig.json',
          },
        },
      },
      {
        extends: true,
        test: {
          name: 'cluster',
          include: CLUSTER_TESTS,
          env: { AF_REDIS_TARGET: 'cluster' },
          globalSetup: ['./test-support/src/cluster-global-setup.ts'],
        },
      },
    ],
  },
})
