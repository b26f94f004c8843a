import { availableParallelism } from 'node:os'
import { fileURLToPath } from 'node:url'
import { configDefaults, defineConfig } from 'vitest/config'

export default defineConfig({
  // Examples import the package by name, as users do: the source, as tsconfig's paths say.
  resolve: {
    alias: [
      { find: /^scache$/, replacement: fileURLToPath(new URL('./src/index.ts', import.meta.url)) },
      {
        find: /^scache\/testing$/,
        replacement: fileURLToPath(new URL('./src/testing/index.ts', import.meta.url)),
      },
    ],
  },
  test: {
    include: ['test/**/*.test.ts'],
    // Installs from the registry: npm run test:sam and test:consumer (vitest.deploy.config.ts).
    // AWS's runtime client needs Node 22+ and a native build: npm run test:runtime.
    exclude: [...configDefaults.exclude, 'test/deploy/**', 'test/runtime/**'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Each file starts its own in-process Kinesis emulator on a free port.
    pool: 'forks',
    // At least 2 workers, where Vitest's default (a core less than the machine has) gives 1 on
    // 2 cores: the tests mostly wait on the emulators' sockets and on timers, so on 2 cores a
    // second worker takes the run from about 190 s to 110 s, its tests' summed time about 10%
    // longer.
    maxWorkers: Math.max(2, availableParallelism() - 1),
    // The SDK warns on Node 20 that its 2027 releases will need Node 22; CI also runs 22 and 24.
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
  },
})
