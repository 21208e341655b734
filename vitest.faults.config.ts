import { defineConfig } from 'vitest/config';

/**
 * The fault suite (`npm run test:faults`): real worker and server processes, a real
 * PostgreSQL (restarted once per run) and PGlite data directories killed mid-write.
 * Files run one at a time: they measure recovery times and throughput on a small machine.
 */
export default defineConfig({
  test: {
    include: ['test/faults/**/*.test.ts'],
    globalSetup: ['test/faults/global-setup.ts'],
    testTimeout: 180_000,
    hookTimeout: 120_000,
    pool: 'forks',
    fileParallelism: false,
    maxWorkers: 1,
    sequence: { concurrent: false },
  },
});
