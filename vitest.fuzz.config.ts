import { defineConfig, mergeConfig } from 'vitest/config';
import base from './vitest.config.js';

// Long-running property/fuzz runs: `npm run fuzz` (FUZZ_RUNS overrides the run count).
export default mergeConfig(base, defineConfig({
  test: { include: ['test/**/*.fuzz.test.ts'], exclude: ['node_modules/**'], testTimeout: 600_000 },
}));
