import { defineConfig } from 'vitest/config';

// Integration files that must not share the machine with another test file: they stop the Docker engine
// (faults-engine), or measure leases, cron triggers and retries against the clock under kills and
// signals (terminal: a SIGINT a few seconds into a run must find its build running). They run one at a
// time, after everything else; the rest run two at a time.
const ALONE = ['daemon', 'destinations', 'faults-engine', 'fleet-faults', 'signals', 'terminal'].map((name) => `test/integration/${name}.test.ts`);

// Two cores: the fast unit tests and the integration files that can share the machine run two at a
// time, then the ALONE files one at a time. Projects run in the same group must agree on maxWorkers.
// `npm run test:unit` runs only the first project (`vitest run --project unit`), `npm test` all three.
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
          maxWorkers: 2,
          sequence: { groupOrder: 0 },
        },
      },
      {
        // Real parts together: the built CLI, Docker, git, S3 and SMTP servers, Redis, pip, Chromium.
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          exclude: ALONE,
          globalSetup: ['test/global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
          pool: 'forks',
          maxWorkers: 2,
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          name: 'integration-alone',
          include: ALONE,
          globalSetup: ['test/global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
          pool: 'forks',
          maxWorkers: 1,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
