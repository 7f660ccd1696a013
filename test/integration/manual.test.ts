/**
 * Only the nightly is in the nightly: hand builds outside this machine's share are recorded as manual and
 * kept out of the nightly's manifest, latest pointers and report (build --upload sends them to manual/);
 * a hand build of a cell in the share is a rerun of it, showing its new log and keeping the old one; and a
 * night folder belongs to one machine. Real CLI runs, a real git repository, a real file:// destination.
 */
import { existsSync } from 'node:fs';
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
let handOutside: CliResult;
let handOther: CliResult;
let nightly: CliResult;
const args = (machine = 'm1') => ['--config', night.configDir, '--machine', machine, '--date', night.date];
// status and log read the night folder, which names its machine.
const readArgs = () => ['--config', night.configDir, '--date', night.date];
const nightDir = () => path.join(night.root, night.date);
const state = async () => JSON.parse(await readFile(path.join(nightDir(), 'night.json'), 'utf8')) as NightState;
const published = (key: string) => path.join(folder, key);
const manifest = async (key: string) => JSON.parse(await readFile(published(key), 'utf8')) as Manifest;

beforeAll(async () => {
  folder = await mkdtemp(path.join(os.tmpdir(), 'nightshift-published-'));
  // m2 builds slow_*; m1 takes the rest of the matrix: ok_3.11, ok_3.12, bad, empty, opt.
  night = await makeNightFixture({
    executor: 'host',
    machines: 'machines:\n  m1: { slots: 2 }\n  m2: { slots: 1, builds: ["slow_*"] }\n',
    scheduleExtra: `upload:\n  to: "file://${folder}/{date}"\n  key: "{package}/{python}/{file}"\n`,
  });
  handOutside = await runCli(['build', 'ok', '3.14', 'cpu', '--upload', ...args()]);
  handOther = await runCli(['build', 'slow', '3.12', 'cpu', ...args()]);
  nightly = await runCli(['run', ...args()]);
}, 120_000);
afterAll(async () => {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset when the before-hook failed
  await night?.cleanup();
  await rm(folder, { recursive: true, force: true });
});

describe("hand builds outside the machine's share", () => {
  it('are recorded as manual in night.json, with their logs', async () => {
    expect(handOutside.exitCode).toBe(0);
    expect(handOutside.stdout).toMatch(/manual build\(s\), not part of the nightly \(outside m1's share of the matrix\): ok_3\.14_cpu/);
    expect(handOther.stdout).toMatch(/manual build\(s\).*: slow_3\.12_cpu/);
    const builds = Object.fromEntries((await state()).builds.map((b) => [b.id, b]));
    expect(builds['ok_3.14_cpu']).toMatchObject({ manual: true, status: 'succeeded', log: 'logs/succeeded/ok_3.14_cpu.log' });
    expect(builds['slow_3.12_cpu']).toMatchObject({ manual: true, status: 'timed_out' });
    for (const id of ['ok_3.11_cpu', 'ok_3.12_cpu', 'bad_3.12_cpu', 'empty_3.12_cpu', 'opt_3.12_cpu']) expect(builds[id]!.manual).toBeUndefined();
  });

  it('stay out of the nightly manifest and latest pointers; build --upload puts them under manual/', async () => {
    expect(nightly.exitCode).toBe(1); // bad and empty fail
    const ids = (await manifest(`nightshift/nights/${night.date}/m1/manifest.json`)).builds.map((b) => b.id).sort();
    expect(ids).toEqual(['bad_3.12_cpu', 'empty_3.12_cpu', 'ok_3.11_cpu', 'ok_3.12_cpu', 'opt_3.12_cpu']);
    expect(existsSync(published('nightshift/latest/ok_3.11_cpu.json'))).toBe(true);
    expect(existsSync(published('nightshift/latest/ok_3.14_cpu.json'))).toBe(false);
    expect(existsSync(published('nightshift/latest/slow_3.12_cpu.json'))).toBe(false);
    expect(existsSync(published(`${night.date}/ok/3.14/pkg-3.14.whl`))).toBe(false);

    expect(handOutside.stdout).toMatch(/manual build\(s\) to file:\/\/.*\/manual\/: 3 uploaded/);
    const manual = await manifest(`manual/nightshift/nights/${night.date}/m1/manifest.json`);
    expect(manual.builds.map((b) => [b.id, b.published])).toEqual([['ok_3.14_cpu', true]]);
    expect(existsSync(published(`manual/${night.date}/ok/3.14/pkg-3.14.whl`))).toBe(true);
    expect(existsSync(published(`manual/nightshift/latest/ok_3.14_cpu.json`))).toBe(false);
  });

  it("are left out of the report's counts and grid", async () => {
    const report = await runCli(['report', '--print', ...args()]);
    expect(report.stdout).toMatch(/2 of 6 builds failed/);
    expect(report.stdout).not.toMatch(/3\.14/);
    // m2 published nothing: its cell is missing, not m1's timed-out hand build.
    expect(report.stdout).toMatch(/slow 3\.12\s+MISSING/);
    expect(report.stdout).not.toMatch(/TIMEOUT \d/);
  });

  it('show as manual in status', async () => {
    const status = await runCli(['status', ...readArgs()]);
    expect(status.stdout).toMatch(/, 2 manual/);
    expect(status.stdout).toMatch(/ok_3\.14_cpu\s+succeeded \(manual\)/);
    const json = JSON.parse((await runCli(['status', '--json', ...readArgs()])).stdout) as { builds: { id: string; manual: boolean }[] };
    expect(
      json.builds
        .filter((b) => b.manual)
        .map((b) => b.id)
        .sort(),
    ).toEqual(['ok_3.14_cpu', 'slow_3.12_cpu']);
  });
});

describe("a hand build of a cell in the machine's share", () => {
  it("is a rerun of that cell: it shows the new attempt's log and keeps the earlier one", async () => {
    await night.commit({ 'fail.sh': 'echo "compiler error: attempt two"\nexit 3\n' }, 'a different failure');
    const rerun = await runCli(['build', 'bad', '3.12', 'cpu', '--refresh-recipes', ...args()]);
    expect(rerun.exitCode).toBe(1);
    expect(rerun.stdout).not.toMatch(/manual/);
    expect(rerun.stdout).toMatch(/compiler error: attempt two/);
    expect(rerun.stdout).not.toMatch(/something broke/);
    const record = (await state()).builds.find((b) => b.id === 'bad_3.12_cpu')!;
    expect(record).toMatchObject({ attempt: 2, status: 'failed', log: 'logs/failed/bad_3.12_cpu.log' });
    expect(record.manual).toBeUndefined();
    expect(await readFile(path.join(nightDir(), 'logs/failed/bad_3.12_cpu.attempt-1.log'), 'utf8')).toMatch(/something broke/);
    expect(await readFile(path.join(nightDir(), 'logs/failed/bad_3.12_cpu.log'), 'utf8')).toMatch(/attempt two/);
    expect((await runCli(['log', 'bad_3.12_cpu', ...readArgs()])).stdout).toMatch(/^(?![\s\S]*something broke)[\s\S]*attempt two/);
  });
});

describe('one machine per night folder', () => {
  it('a run or build of another machine on the same root exits 2 naming the owner, and changes nothing', async () => {
    const before = await readFile(path.join(nightDir(), 'night.json'), 'utf8');
    const run = await runCli(['run', ...args('m2')]);
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toMatch(new RegExp(`night ${night.date} in .* belongs to machine m1 \\(its night.json\\), not m2: give each machine its own root`));
    const build = await runCli(['build', 'ok', '3.12', 'cpu', ...args('m2')]);
    expect(build.exitCode).toBe(2);
    expect(build.stderr).toMatch(/belongs to machine m1/);
    expect(await readFile(path.join(nightDir(), 'night.json'), 'utf8')).toBe(before);
  });
});
