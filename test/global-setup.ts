/** Builds dist/ once before the tests, so tests that run the real `nightshift` binary run today's code. */
import { execa } from 'execa';

export default async function setup(): Promise<void> {
  await execa('npx', ['tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
}
