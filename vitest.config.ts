import { defineConfig } from 'vitest/config';

// Two projects: `npm run test:unit` runs only the first (`vitest run --project unit`), `npm test` both.
export default defineConfig({
  test: {
    projects: [
      {
        // Pure code and single modules, in this process's own files and folders: no dist/, no processes.
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          // Threads sharing one module graph: the suite starts in seconds instead of loading the sources
          // once per file. Every test file leaves timers, cron tasks and folders as it found them.
          pool: 'threads',
          isolate: false,
          testTimeout: 10_000,
        },
      },
      {
        // Real parts together: the built CLI, Docker, git, S3 and SMTP servers.
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/global-setup.ts'],
          // Docker and git tests spawn real processes; two cores share them.
          testTimeout: 60_000,
          hookTimeout: 120_000,
          pool: 'forks',
        },
      },
    ],
  },
});
