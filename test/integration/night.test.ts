/**
 * A whole night through `nightshift run`, with real git, the real Docker engine (and the host executor):
 * successes, a failure, a timeout, a build without artifact; then a resumed run.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { containersWithLabel, dockerAvailable } from '../helpers/docker.js';
import { makeNightFixture, type NightFixture } from '../helpers/night-fixture.js';
import { runCli } from '../helpers/run-cli.js';
import type { NightState } from '../../src/night/state.js';

describe.each(['docker', 'host'] as const)('a night with the %s executor', (executor) => {
  let night: NightFixture;
  let first: Awaited<ReturnType<typeof runCli>>;
  const dir = () => path.join(night.root, night.date);
  const state = async () => JSON.parse(await readFile(path.join(dir(), 'night.json'), 'utf8')) as NightState;
  const build = async (id: string) => (await state()).builds.find((b) => b.id === id)!;
  const cli = (...args: string[]) => runCli(['--machine', 'm1', ...args, '--config', night.configDir, '--date', night.date]);

  beforeAll(async () => {
    if (executor === 'docker') await dockerAvailable();
    night = await makeNightFixture({ executor });
    first = await cli('run');
  }, 120_000);
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset when the before-hook failed
  afterAll(() => night?.cleanup());
  beforeEach(async () => {
    if (executor === 'docker') await dockerAvailable();
  });

  it('exits 1 because some builds did not succeed, and says which', () => {
    expect(first.stderr).toBe('');
    expect(first.exitCode).toBe(1);
    expect(first.stdout).toMatch(/night \d{4}_\d\d_\d\d: .*3 succeeded/);
    expect(first.stdout).toMatch(/failed bad_3\.12_cpu: exit code 3 — log .*logs\/failed\/bad_3\.12_cpu\.log/);
  });

  it('records every build in night.json with its status, exit code and reason', async () => {
    const s = await state();
    expect(s).toMatchObject({ version: 1, date: night.date, machine: 'm1', schedule: 'nightly' });
    expect(s.recipes?.commit).toMatch(/^[0-9a-f]{40}$/);
    const summary = Object.fromEntries(s.builds.map((b) => [b.id, [b.status, b.exit_code]]));
    expect(summary).toEqual({
      'ok_3.11_cpu': ['succeeded', 0],
      'ok_3.12_cpu': ['succeeded', 0],
      'bad_3.12_cpu': ['failed', 3],
      'slow_3.12_cpu': ['timed_out', null],
      'empty_3.12_cpu': ['failed', 0],
      'opt_3.12_cpu': ['succeeded', 0],
    });
    expect(await build('slow_3.12_cpu')).toMatchObject({ reason: 'timed out after 2s and was killed' });
    expect((await build('empty_3.12_cpu')).reason).toMatch(/^no artifact/);
    const ok = await build('ok_3.11_cpu');
    const wall = (Date.parse(ok.finished_at!) - Date.parse(ok.started_at!)) / 1000;
    expect(ok.duration_s).toBeTypeOf('number');
    expect(Math.abs(ok.duration_s! - wall)).toBeLessThan(1);
    expect((await build('slow_3.12_cpu')).duration_s).toBeGreaterThanOrEqual(2);
  });

  it('records artifacts with size and sha256', async () => {
    const ok = await build('ok_3.12_cpu');
    const content = await readFile(path.join(dir(), 'artifacts', 'ok_3.12_cpu', 'pkg-3.12.whl'));
    expect(content.toString()).toBe('wheel of ok_3.12_cpu\n');
    expect(ok.artifacts).toEqual([{ file: 'pkg-3.12.whl', size: content.length, sha256: createHash('sha256').update(content).digest('hex') }]);
    expect((await build('opt_3.12_cpu')).artifacts).toEqual([]);
  });

  it('moves each log to succeeded/ or failed/ with the output and a last line stating the result', async () => {
    expect(await readdir(path.join(dir(), 'logs', 'running'))).toEqual([]);
    expect((await readdir(path.join(dir(), 'logs', 'succeeded'))).sort()).toEqual(['ok_3.11_cpu.log', 'ok_3.12_cpu.log', 'opt_3.12_cpu.log']);
    expect((await readdir(path.join(dir(), 'logs', 'failed'))).sort()).toEqual(['bad_3.12_cpu.log', 'empty_3.12_cpu.log', 'slow_3.12_cpu.log']);
    const ok = await readFile(path.join(dir(), 'logs', 'succeeded', 'ok_3.12_cpu.log'), 'utf8');
    expect(ok).toMatch(/building ok_3\.12_cpu python=3\.12 cuda=cpu/);
    expect(ok).toMatch(/to stderr/);
    expect(ok.trimEnd().split('\n').at(-1)).toMatch(/^nightshift: succeeded · exit code 0 · duration \d+s$/);
    const slow = await readFile(path.join(dir(), 'logs', 'failed', 'slow_3.12_cpu.log'), 'utf8');
    expect(slow).toMatch(/starting a long build/);
    expect(slow.trimEnd().split('\n').at(-1)).toMatch(/^nightshift: timed_out · exit code - · duration \d+s · timed out after 2s/);
  });

  it('writes master logs per slot and for the run', async () => {
    const master = await readdir(path.join(dir(), 'logs', 'master'));
    expect(master).toContain('run.log');
    expect(master).toEqual(expect.arrayContaining(['slot-1.log', 'slot-2.log']));
    const run = await readFile(path.join(dir(), 'logs', 'master', 'run.log'), 'utf8');
    expect(run).toMatch(/recipes cloned at [0-9a-f]{40}/);
  });

  it('leaves no container of the night behind', async () => {
    if (executor === 'docker') expect(await containersWithLabel(`nightshift.night=${night.date}`)).toEqual([]);
  });

  it('status, log and wait read the night', async () => {
    const status = await cli('status', '--json');
    expect(status.exitCode).toBe(0);
    const json = JSON.parse(status.stdout) as {
      date: string;
      machine: string;
      builds: { id: string; status: string; exit_code: number | null; duration_s: number; log: string }[];
    };
    expect(json).toMatchObject({ date: night.date, machine: 'm1' });
    expect(json.builds.find((b) => b.id === 'bad_3.12_cpu')).toMatchObject({ status: 'failed', exit_code: 3, log: path.join(dir(), 'logs', 'failed', 'bad_3.12_cpu.log') });
    const table = await cli('status');
    expect(table.stdout).toMatch(/slow_3\.12_cpu\s+timed_out/);

    const log = await cli('log', 'bad_3.12_cpu');
    expect(log.exitCode).toBe(0);
    expect(log.stdout).toMatch(/compiler error: something broke/);
    expect((await cli('log', 'bad_3.12_cpu', '--follow')).exitCode).toBe(1);
    expect((await cli('log', 'ok_3.11_cpu', '--follow')).exitCode).toBe(0);
    expect((await cli('log', 'nope_3.12_cpu')).exitCode).toBe(3);

    expect((await cli('wait', 'ok_3.11_cpu', 'opt_3.12_cpu')).exitCode).toBe(0);
    const waitAll = await cli('wait');
    expect(waitAll.exitCode).toBe(1);
    expect(waitAll.stdout).toMatch(/timed_out slow_3\.12_cpu/);
  });

  it('a second run resumes: keeps the successes, reruns the rest with the same recipes', async () => {
    const before = await state();
    await night.commit({ 'fail.sh': 'echo fixed > "$NIGHTSHIFT_OUT/fixed.whl"\n' }, 'fix the failing recipe');
    const second = await cli('run', '--skip', 'slow_*');
    expect(second.exitCode).toBe(1); // the clone is reused, so the fix is not seen; empty_ still has no artifact
    expect(second.stdout).toMatch(/3 build\(s\) already succeeded and are kept/);
    const after = await state();
    expect(after.recipes?.commit).toBe(before.recipes?.commit);
    const byId = (s: NightState, id: string) => s.builds.find((b) => b.id === id)!;
    expect(byId(after, 'ok_3.11_cpu')).toEqual(byId(before, 'ok_3.11_cpu'));
    expect(byId(after, 'bad_3.12_cpu')).toMatchObject({ status: 'failed', attempt: 2 });
    expect(byId(after, 'slow_3.12_cpu')).toMatchObject({ status: 'timed_out', attempt: 1 });

    const refreshed = await cli('run', '--only', 'bad_*', '--refresh-recipes');
    expect(refreshed.exitCode).toBe(0);
    const fixed = await state();
    expect(fixed.recipes?.commit).not.toBe(before.recipes?.commit);
    expect(byId(fixed, 'bad_3.12_cpu')).toMatchObject({ status: 'succeeded', attempt: 3 });
    expect(await readdir(path.join(dir(), 'logs', 'failed'))).not.toContain('bad_3.12_cpu.log');
    expect(await readdir(path.join(dir(), 'logs', 'succeeded'))).toContain('bad_3.12_cpu.log');
  });

  it('retry runs again only what ended without succeeding', async () => {
    const before = await state();
    const byId = (s: NightState, id: string) => s.builds.find((b) => b.id === id)!;
    expect(byId(before, 'empty_3.12_cpu').status).toBe('failed');
    expect(byId(before, 'slow_3.12_cpu').status).toBe('timed_out');
    const retried = await cli('retry', '--skip', 'slow_*');
    expect(retried.stdout).toMatch(/^retrying 1 build\(s\) of night \d{4}_\d\d_\d\d: empty_3\.12_cpu$/m);
    expect(retried.exitCode).toBe(1); // empty_ still writes no artifact
    const after = await state();
    for (const id of ['ok_3.11_cpu', 'bad_3.12_cpu', 'slow_3.12_cpu']) expect(byId(after, id)).toEqual(byId(before, id));
    expect(byId(after, 'empty_3.12_cpu').attempt).toBe(byId(before, 'empty_3.12_cpu').attempt + 1);
  });
  it('--dry-run prints what would run and writes nothing', async () => {
    const before = await readFile(path.join(dir(), 'night.json'), 'utf8');
    const dry = await cli('run', '--dry-run');
    expect(dry.exitCode).toBe(0);
    expect(dry.stdout).toMatch(/ok_3\.11_cpu\s+keep \(succeeded\)/);
    expect(dry.stdout).toMatch(/slow_3\.12_cpu\s+build/);
    expect(await readFile(path.join(dir(), 'night.json'), 'utf8')).toBe(before);
  });
});
