import swc from 'unplugin-swc';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// SWC, not esbuild/oxc: Nest needs emitDecoratorMetadata.
export default defineConfig({
  plugins: [swc.vite({ module: { type: 'es6' } })],
  resolve: {
    // Tests and the example import the package by name, as users do; point it at the sources.
    alias: [
      { find: /^nestjs-sip$/, replacement: fileURLToPath(new URL('./src/index.ts', import.meta.url)) },
      { find: /^nestjs-sip\/prometheus$/, replacement: fileURLToPath(new URL('./src/prometheus.ts', import.meta.url)) },
      { find: /^nestjs-sip\/terminus$/, replacement: fileURLToPath(new URL('./src/terminus.ts', import.meta.url)) },
      { find: /^nestjs-sip\/testing$/, replacement: fileURLToPath(new URL('./src/testing.ts', import.meta.url)) },
    ],
  },
  test: {
    include: ['test/**/*.test.ts', 'src/**/*.test.ts'],
    exclude: ['test/**/*.fuzz.test.ts', 'node_modules/**'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    reporters: ['default'],
  },
});
