/** Builds dist/ once before the tests, so tests that run the real `nightshift` binary run today's code. */
import { execa } from 'execa';

export default async function setup(): Promise<void> {
  await execa('node', ['scripts/build.mjs'], { stdio: 'inherit' });
}
