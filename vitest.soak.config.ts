import { defineConfig } from 'vitest/config'
import base from './vitest.config.ts'

// `npm run test:soak`: the long runs of test/soak/, never part of `npm test` (mergeConfig would
// add to `include` rather than replace it).
export default defineConfig({ test: { ...base.test, include: ['test/soak/**/*.soak.ts'], testTimeout: 1_800_000 } })
