/**
 * A failed build's first error line, end to end: the runner finds it in the build's log (past
 * nightshift's own header), night.json and the published manifest carry it, and the report shows it
 * with the recipes commit and a link to the build's page on `nightshift serve`. Real CLI, real git,
 * host executor, a file:// destination.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeNightFixture, type NightFixture } from '../helpers/night-fixture.js';
import { runCli, type CliResult } from '../helpers/run-cli.js';
import type { NightState } from '../../src/night/state.js';
import type { Manifest } from '../../src/store/manifest.js';

let night: NightFixture;
let folder: string;
let run: CliResult;
let report: CliResult;
const args = () => ['--config', night.configDir, '--machine', 'm1', '--date', night.date];

beforeAll(async () => {
  folder = await mkdtemp(path.join(os.tmpdir(), 'nightshift-published-'));
  night = await makeNightFixture({
    executor: 'host',
    slowTimeout: '1s',
    scheduleExtra:
      `upload:\n  to: "file://${folder}/{date}"\n  key: "{package}/{python}/{file}"\n` + `report:\n  cron: "0 7 * * *"\n  serve_url: "http://{machine}.nightly.example.com:8080"\n`,
  });
  run = await runCli(['run', ...args()]);
  report = await runCli(['report', ...args()]);
}, 120_000);

afterAll(async () => {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset when the before-hook failed
  await night?.cleanup();
  await rm(folder, { recursive: true, force: true });
});

describe("a failed build's first error line", () => {
  it('is recorded in night.json and the manifest for failures only, and shown by status --json', async () => {
    expect(run.exitCode).toBe(1);
    const state = JSON.parse(await readFile(path.join(night.root, night.date, 'night.json'), 'utf8')) as NightState;
    const builds = Object.fromEntries(state.builds.map((b) => [b.id, b]));
    expect(builds['bad_3.12_cpu']).toMatchObject({ status: 'failed', first_error: 'compiler error: something broke' });
    expect(builds['ok_3.12_cpu']!.first_error).toBeUndefined();
    // The timed-out build printed nothing that looks like an error: nightshift's own footer does not count.
    expect(builds['slow_3.12_cpu']).toMatchObject({ status: 'timed_out' });
    expect(builds['slow_3.12_cpu']!.first_error).toBeUndefined();

    const manifest = JSON.parse(await readFile(path.join(folder, 'nightshift/nights', night.date, 'm1/manifest.json'), 'utf8')) as Manifest;
    expect(manifest.builds.find((b) => b.id === 'bad_3.12_cpu')!.first_error).toBe('compiler error: something broke');
    expect(manifest.builds.find((b) => b.id === 'ok_3.12_cpu')!).not.toHaveProperty('first_error');

    // ... and in status --json, for scripts (null where there is none).
    const status = JSON.parse((await runCli(['status', '--json', '--config', night.configDir, '--date', night.date])).stdout) as {
      builds: { id: string; first_error: string | null }[];
    };
    const shown = Object.fromEntries(status.builds.map((b) => [b.id, b.first_error]));
    expect(shown).toMatchObject({ 'bad_3.12_cpu': 'compiler error: something broke', 'ok_3.12_cpu': null, 'slow_3.12_cpu': null });
  });

  it('is in the report, with the recipes commit and the serve page as the log link', async () => {
    expect(report.exitCode).toBe(0);
    const text = await readFile(path.join(night.root, night.date, 'report.txt'), 'utf8');
    const html = await readFile(path.join(night.root, night.date, 'report.html'), 'utf8');
    const section = text.slice(text.indexOf('bad_3.12_cpu -- FAILED'));
    expect(section).toMatch(/First error: +compiler error: something broke\n/);
    expect(section).toMatch(/Recipes: +[0-9a-f]{7}\n/);
    expect(section).toMatch(/Commit range: +first failing night at [0-9a-f]{7} \(no good night in the history\)\n/);
    const page = `http://m1.nightly.example.com:8080/nights/${night.date}/builds/bad_3.12_cpu`;
    expect(section).toMatch(new RegExp(`Full log: +${page.replaceAll('.', '\\.')}\\n`));
    expect(html).toContain(`<a href="${page}"`);
    // Each grid cell names the machine that built it.
    expect(html).toMatch(/<td title="bad_3\.12_cpu [^"]*" style="[^"]*">✗ [^<]*<br><span [^>]*>m1<\/span><\/td>/);
  });
});
