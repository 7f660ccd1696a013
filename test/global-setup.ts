/**
 * Builds dist/ once before the tests, so tests that run the real `nightshift` binary run today's code.
 * Both integration projects name this setup; the build is shared through the one vitest process, so two
 * projects never write dist/ at the same time or twice.
 */
import { execa } from 'execa';

const shared = globalThis as { nightshiftDistBuild?: Promise<unknown> };

export default async function setup(): Promise<void> {
  shared.nightshiftDistBuild ??= execa('node', ['scripts/build.mjs'], { stdio: 'inherit' });
  await shared.nightshiftDistBuild;
}
