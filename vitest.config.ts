import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    // Docker and git tests spawn real processes; two cores share them.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
