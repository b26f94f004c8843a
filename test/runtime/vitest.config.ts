import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

// `npm run test:runtime` only: the example under AWS's runtime client (test/runtime/run.sh).
export default defineConfig({
  root: fileURLToPath(new URL('../../', import.meta.url)),
  resolve: {
    alias: { scache: fileURLToPath(new URL('../../src/index.ts', import.meta.url)) },
  },
  test: {
    include: ['test/runtime/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
})
