/**
 * Which night `nightshift report` is about without --date: the latest whose scheduled start has come, as
 * the daemon's report; but today's when it already ran, started by hand before its time. Real runs of
 * the CLI on today's date, with a schedule whose start (23:59 UTC) has not come yet today.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeNightFixture, type NightFixture } from '../helpers/night-fixture.js';
import { runCli } from '../helpers/run-cli.js';
import { addDays, nightDate } from '../../src/night/night-date.js';

let night: NightFixture;
const at = () => ['--machine', 'm1', '--config', night.configDir];

beforeAll(async () => {
  night = await makeNightFixture({ executor: 'host', cron: '59 23 * * *' });
});
// eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset when the before-hook failed
afterAll(() => night?.cleanup());

describe('nightshift report without --date', () => {
  it("is about yesterday's night before today's has run, and about today's once it was run by hand", async () => {
    const today = nightDate(new Date(), 'UTC');
    // Before 23:59 UTC today's night has not come yet: the report is about yesterday's, which never ran here.
    const before = await runCli(['report', '--print', ...at()]);
    expect(before.exitCode, before.stderr).toBe(0);
    const expected = new Date().getUTCHours() === 23 && new Date().getUTCMinutes() === 59 ? today : addDays(today, -1);
    expect(before.stdout).toContain(`nightshift ${expected}:`);

    const run = await runCli(['run', '--only', 'ok_*', ...at()]);
    expect(run.exitCode, run.stderr).toBe(0);
    const after = await runCli(['report', '--print', ...at()]);
    expect(after.exitCode, after.stderr).toBe(0);
    expect(after.stdout).toContain(`Subject: nightshift ${today}: `);
    expect(after.stdout).toMatch(/schedule nightly: 2 succeeded/);
  });
});
