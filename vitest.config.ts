import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    globals: true,
    include: ['packages/*/test/**/*.test.ts', 'apps/*/test/**/*.test.{ts,tsx}', 'test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // One file at a time, whatever the core count: many files start whole topologies (nginx, api
    // replicas, Chromium), and two of them side by side on a 2-core machine starve each other into
    // flaky timeouts (measured: 2 workers failed the topology and board checks). ≈ 14 min here.
    maxWorkers: 1,
  },
});
