import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import { NameOrderSequencer } from './test/support/name-order-sequencer';

// Two suites share one moto server and one Redis (see test/support/global-setup.ts):
// - unit: `*.spec.ts` beside the code, files run in parallel;
// - e2e: cross-process tests in `test/`, one file at a time, because they start
//   processes and measure behaviour that is timing-sensitive on a 2-core machine.
export default defineConfig({
  resolve: {
    // The shared harness (moto, Redis, per-test buckets and prefixes), for specs beside the code.
    alias: { '@siglip-batch/testing': fileURLToPath(new URL('./test/support/index.ts', import.meta.url)) },
  },
  test: {
    globalSetup: ['./test/support/global-setup.ts'],
    sequence: { sequencer: NameOrderSequencer },
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['apps/**/*.spec.ts', 'libs/**/*.spec.ts', 'tools/**/*.spec.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: ['test/**/*.test.ts'],
          fileParallelism: false,
          testTimeout: 300_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
