import { defineConfig } from 'vitest/config'

// The slow tests that install from the npm registry, outside `npm test`: the replay of
// `sam build` (npm run test:sam) and the packed package in fresh projects (npm run test:consumer).
export default defineConfig({
  test: {
    include: ['test/deploy/**/*.test.ts'],
    testTimeout: 300_000,
    hookTimeout: 300_000,
    pool: 'forks',
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
  },
})
