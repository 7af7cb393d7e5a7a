import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

// The SDK's own tests, which need no Sluice (the end-to-end ones run with the repo's suite):
// `npm test` runs them once more on the machine's Node when that is older than the server's, so
// the SDK is tested on the oldest Node its package.json accepts as well as on the server's.
export default defineConfig({
  test: {
    root: fileURLToPath(new URL('.', import.meta.url)),
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    exclude: ['**/node_modules/**', '**/*.e2e.test.ts'],
    pool: 'forks',
    testTimeout: 60_000,
  },
})
