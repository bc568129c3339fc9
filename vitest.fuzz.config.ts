import { defineConfig } from 'vitest/config';
import base from './vitest.config.js';

// Long-running property/fuzz runs: `npm run fuzz` (FUZZ_RUNS overrides the run count).
// Spread, not mergeConfig: merging would keep the base config's exclusion of the fuzz files.
export default defineConfig({
  ...base,
  test: { ...base.test, include: ['test/**/*.fuzz.test.ts'], exclude: ['node_modules/**'], testTimeout: 600_000 },
});
