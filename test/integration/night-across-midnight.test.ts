/**
 * A night that crosses midnight: started yesterday (its date in the schedule's time zone) and still
 * running today. Without --date, status, log, wait, cancel and shell mean it while its run goes on, and
 * today's night once that one has begun. The built CLI, a real run holding the night's lock.
 */
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeNightFixture, type NightFixture } from '../helpers/night-fixture.js';
import { runCli } from '../helpers/run-cli.js';
import { addDays, nightDate } from '../../src/night/night-date.js';
import { readNightState } from '../../src/night/state.js';

const CLI = path.resolve(import.meta.dirname, '../../dist/cli.js');
let night: NightFixture;
let runner: ResultPromise | undefined;

beforeAll(async () => {
  night = await makeNightFixture({ executor: 'host', slowTimeout: '1m' });
});
afterAll(async () => {
  runner?.kill('SIGKILL');
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset when the before-hook failed
  await night?.cleanup();
});

describe('a night that crosses midnight', () => {
  it('is the night status, log and cancel mean without --date while its run goes on; then today has none', async () => {
    const today = nightDate(new Date(), 'UTC');
    const yesterday = addDays(today, -1);
    runner = execa('node', [CLI, 'run', '--machine', 'm1', '--only', 'slow_*', '--config', night.configDir, '--date', yesterday], { reject: false });
    const file = path.join(night.root, yesterday, 'night.json');
    for (let tries = 0; (await readNightState(file).catch(() => undefined))?.builds[0]?.status !== 'running'; tries++) {
      expect(tries, 'the slow build to start').toBeLessThan(300);
      await sleep(100);
    }
    const at = ['--config', night.configDir];

    const status = await runCli(['status', ...at]);
    expect(status.exitCode, status.stderr).toBe(0);
    expect(status.stdout).toContain(`night ${yesterday} on m1`);
    expect(status.stdout).toMatch(/slow_3\.12_cpu\s+running/);
    expect((await runCli(['log', 'slow_3.12_cpu', ...at])).stdout).toContain('starting a long build');

    const cancel = await runCli(['cancel', ...at]);
    expect(cancel.exitCode, cancel.stderr).toBe(0);
    expect((await runner).exitCode).toBe(5);

    // Its run is over: today's night is meant again, and it has not begun.
    const after = await runCli(['status', ...at]);
    expect(after.exitCode).toBe(3);
    expect(after.stderr).toContain(`no night ${today} on this machine; nights under ${night.root}: ${yesterday}`);
  }, 60_000);
});
