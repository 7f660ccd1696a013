/**
 * `nightshift cancel` against a real `nightshift run` of host builds: some builds of a running night, or
 * the whole night, stopped without looking up a pid. Signals go only to this file's own runners.
 */
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa, type ResultPromise } from 'execa';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { makeNightFixture, type NightFixture } from '../helpers/night-fixture.js';
import { fleet, outcomes, useFleet } from '../helpers/fleet.js';
import { processesWith } from '../helpers/processes.js';
import { runCli } from '../helpers/run-cli.js';
import { readNightState, type BuildRecord } from '../../src/night/state.js';

const CLI = path.resolve(import.meta.dirname, '../../dist/cli.js');

let night: NightFixture;
let runner: ResultPromise | undefined;

beforeAll(async () => {
  // Two slots, two slow builds (longest expected, so they start first) and two quick ones waiting behind them.
  night = await makeNightFixture({ executor: 'host', slots: 2, slowPythons: ['3.11', '3.12'], slowTimeout: '10m' });
});
afterEach(async () => {
  runner?.kill('SIGKILL');
  await runner;
  runner = undefined;
});
// eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset when the before-hook failed
afterAll(() => night?.cleanup());

const args = (date: string) => ['--config', night.configDir, '--date', date];
const builds = async (date: string): Promise<Record<string, BuildRecord>> =>
  Object.fromEntries(((await readNightState(path.join(night.root, date, 'night.json')))?.builds ?? []).map((b) => [b.id, b]));

async function until(condition: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** Starts `nightshift run` of the slow and quick builds (as `runner`) and returns once both slow ones run. */
async function startNight(date: string): Promise<void> {
  runner = execa('node', [CLI, 'run', '--machine', 'm1', '--only', 'slow_*', '--only', 'ok_*', ...args(date)], { reject: false });
  await until(async () => {
    const now = await builds(date);
    return now['slow_3.11_cpu']?.status === 'running' && now['slow_3.12_cpu']?.status === 'running';
  }, 'both slow builds to run');
}

describe('nightshift cancel ID...', () => {
  it('cancels a running build and a waiting one; the run goes on with the others and exits 1', async () => {
    // Slow builds that end by themselves after a few seconds, so that the one left alone succeeds.
    await night.commit({ 'slow.sh': 'echo "starting a long build"\nsleep 5\necho wheel > "$NIGHTSHIFT_OUT/slow.whl"\n' }, 'slow builds of 5 s');
    const date = '2031_03_01';
    await startNight(date);

    const typo = await runCli(['cancel', 'slow_3.12_cpo', ...args(date)]);
    expect(typo.exitCode).toBe(3);
    expect(typo.stderr).toMatch(/no build slow_3\.12_cpo in night 2031_03_01; did you mean "slow_3\.12_cpu"\?/);

    const canceled = await runCli(['cancel', 'slow_3.12_cpu', 'ok_3.12*', ...args(date)]);
    expect(canceled.stderr).toBe('');
    expect(canceled.exitCode).toBe(0);
    expect(canceled.stdout).toMatch(/asked the run of night 2031_03_01 \(pid \d+\) to cancel 2 build\(s\)/);
    expect(canceled.stdout).toMatch(/^canceled slow_3\.12_cpu after \S+ \(canceled by nightshift cancel\)$/m);
    expect(canceled.stdout).toMatch(/^canceled ok_3\.12_cpu \(canceled by nightshift cancel\)$/m);
    // Nothing of the canceled build is left running; its neighbour still runs.
    expect(processesWith(path.join(night.root, date, 'artifacts', 'slow_3.12_cpu'))).toEqual([]);
    expect(processesWith(path.join(night.root, date, 'artifacts', 'slow_3.11_cpu')).length).toBeGreaterThan(0);

    // Asking again for a build that ended is reported, not an error.
    const again = await runCli(['cancel', 'ok_3.12_cpu', ...args(date)]);
    expect(again.exitCode).toBe(0);
    expect(again.stdout).toMatch(/already ended: canceled ok_3\.12_cpu/);

    const result = await runner!;
    expect(result.exitCode, `${String(result.stdout)}\n${String(result.stderr)}`).toBe(1);
    expect(String(result.stdout)).toMatch(/night 2031_03_01: .*2 canceled/);
    const after = await builds(date);
    expect(Object.fromEntries(Object.values(after).map((b) => [b.id, b.status]))).toEqual({
      'slow_3.11_cpu': 'succeeded',
      'slow_3.12_cpu': 'canceled',
      'ok_3.11_cpu': 'succeeded',
      'ok_3.12_cpu': 'canceled',
    });
    const slow = after['slow_3.12_cpu']!;
    expect(slow.reason).toBe('canceled by nightshift cancel');
    expect(await readFile(path.join(night.root, date, slow.log!), 'utf8')).toMatch(/nightshift: canceled · .* · canceled by nightshift cancel/);
    // The waiting one never started: no start time, no log, no attempt.
    const waiting = after['ok_3.12_cpu']!;
    expect(waiting).toMatchObject({ reason: 'canceled by nightshift cancel', attempt: 0 });
    expect(waiting.started_at).toBeUndefined();
    expect(waiting.log).toBeUndefined();
    // Requests do not outlive the run; without a runner there is nothing to cancel.
    expect(existsSync(path.join(night.root, date, 'cancel'))).toBe(false);
    const late = await runCli(['cancel', 'slow_3.11_cpu', ...args(date)]);
    expect(late.exitCode).toBe(3);
    expect(late.stderr).toMatch(/no run of night 2031_03_01 is going on .*nothing to cancel/);
  });
});

describe('nightshift cancel (the whole night)', () => {
  it('stops the run: running builds canceled, the others pending, exit 5, lock and processes gone', async () => {
    await night.commit({ 'slow.sh': 'echo "starting a long build"\nsleep 300\n' }, 'slow builds of 5 min');
    const date = '2031_03_02';
    await startNight(date);

    // History from the test before changes the order (a quick build may have run first): what runs now is what is canceled.
    const before = Object.values(await builds(date));
    const pending = before.filter((b) => b.status === 'pending').length;
    expect(
      before
        .filter((b) => b.status === 'running')
        .map((b) => b.id)
        .sort(),
    ).toEqual(['slow_3.11_cpu', 'slow_3.12_cpu']);

    const stopped = await runCli(['cancel', ...args(date)]);
    expect(stopped.stderr).toBe('');
    expect(stopped.exitCode).toBe(0);
    expect(stopped.stdout).toMatch(/sent SIGTERM to the run of night 2031_03_02 \(pid \d+\); waiting for its running build\(s\) to end: slow_3\.1[12]_cpu, slow_3\.1[12]_cpu/);
    expect(stopped.stdout).toMatch(/^canceled slow_3\.11_cpu after \S+ \(canceled: nightshift was stopped while the build ran\)$/m);
    expect(stopped.stdout).toMatch(/^canceled slow_3\.12_cpu/m);
    expect(stopped.stdout).toContain(`night 2031_03_02 stopped: 2 build(s) canceled, ${pending} not started stay pending`);

    const result = await runner!;
    expect(result.exitCode, 'a night stopped by a signal').toBe(5);
    const after = Object.fromEntries(Object.values(await builds(date)).map((b) => [b.id, b.status]));
    expect(after).toEqual(Object.fromEntries(before.map((b) => [b.id, b.status === 'running' ? 'canceled' : b.status])));
    expect(existsSync(path.join(night.root, date, 'night.lock'))).toBe(false);
    expect(processesWith(path.join(night.root, date))).toEqual([]);

    const nothing = await runCli(['cancel', ...args(date)]);
    expect(nothing.exitCode).toBe(3);
    expect(nothing.stderr).toMatch(/no run of night 2031_03_02 is going on/);

    // A run of one build: a pending build of the night that this run does not run is left as it is (exit 3).
    const left = before.find((b) => b.status === 'pending')!.id;
    runner = execa('node', [CLI, 'run', '--machine', 'm1', '--only', 'slow_3.11_cpu', ...args(date)], { reject: false });
    await until(async () => (await builds(date))['slow_3.11_cpu']?.status === 'running', 'the rerun to start');
    const notHers = await runCli(['cancel', left, ...args(date)]);
    expect(notHers.exitCode).toBe(3);
    expect(notHers.stdout).toMatch(new RegExp(`^not canceled: ${left.replaceAll('.', '\\.')} stays pending: the run of pid ${runner.pid!} does not run it$`, 'm'));
    expect((await builds(date))[left]?.status).toBe('pending');
    const only = await runCli(['cancel', 'slow_3.11_cpu', ...args(date)]);
    expect(only.exitCode).toBe(0);
    expect(only.stdout).toMatch(/^canceled slow_3\.11_cpu after \S+ \(canceled by nightshift cancel\)$/m);
    expect((await runner).exitCode).toBe(1);
  });

  it('refuses a night run by another host, naming it, and says so for a night that does not exist', async () => {
    const date = '2031_03_02';
    const lock = path.join(night.root, date, 'night.lock');
    await writeFile(lock, JSON.stringify({ pid: 4242, host: `not-${os.hostname()}`, started_at: new Date().toISOString(), purpose: 'run' }));
    try {
      const elsewhere = await runCli(['cancel', ...args(date)]);
      expect(elsewhere.exitCode).toBe(2);
      expect(elsewhere.stderr).toMatch(new RegExp(`pid 4242 on host not-${os.hostname()} \\(run\\), not on this host: cancel it there`));
    } finally {
      await rm(lock, { force: true });
    }
    const missing = await runCli(['cancel', ...args('2031_03_09')]);
    expect(missing.exitCode).toBe(3);
    expect(missing.stderr).toMatch(/no night 2031_03_09 on this machine/);
  });
});

describe('nightshift cancel of a night the daemon runs', () => {
  it('cancels every build through requests, so that the daemon itself goes on', async () => {
    // Nights every 4 seconds: the daemon finds tonight's time just passed and starts the night at once.
    const fixture = await makeNightFixture({ executor: 'host', slots: 2, slowPythons: ['3.11', '3.12'], slowTimeout: '10m', cron: '*/4 * * * * *' });
    const daemon = execa('node', [CLI, 'daemon', '--config', fixture.configDir, '--machine', 'm1'], { reject: false });
    let log = '';
    daemon.stdout.on('data', (chunk: Buffer) => void (log += chunk.toString()));
    try {
      await until(() => Promise.resolve(/night \d{4}_\d\d_\d\d started/.test(log)), 'the daemon to start a night');
      const date = /night (\d{4}_\d\d_\d\d) started/.exec(log)![1]!;
      const at = ['--config', fixture.configDir, '--date', date];
      const statuses = async () => Object.fromEntries(((await readNightState(path.join(fixture.root, date, 'night.json')))?.builds ?? []).map((b) => [b.id, b.status]));
      await until(async () => {
        const now = await statuses();
        return now['slow_3.11_cpu'] === 'running' && now['slow_3.12_cpu'] === 'running';
      }, 'both slow builds to run');

      const canceled = await runCli(['cancel', ...at]);
      expect(canceled.stderr).toBe('');
      expect(canceled.exitCode).toBe(0);
      expect(canceled.stdout).toMatch(new RegExp(`night ${date} is run by the daemon \\(pid ${daemon.pid!}\\): asking it to cancel every build`));
      // The quick builds (bad_, empty_, opt_: expected longest, so first) have ended; the slow ones ran, the ok_ ones waited.
      for (const id of ['slow_3.11_cpu', 'slow_3.12_cpu', 'ok_3.11_cpu', 'ok_3.12_cpu']) {
        expect(canceled.stdout).toMatch(new RegExp(`^canceled ${id.replaceAll('.', '\\.')}.*\\(canceled by nightshift cancel\\)$`, 'm'));
      }
      const after = await statuses();
      expect(
        Object.keys(after)
          .filter((id) => after[id] === 'canceled')
          .sort(),
      ).toEqual(['ok_3.11_cpu', 'ok_3.12_cpu', 'slow_3.11_cpu', 'slow_3.12_cpu']);
      expect(Object.values(after)).not.toContain('running');
      expect(Object.values(after)).not.toContain('pending');
      // The night is over and the daemon lives on.
      await until(() => Promise.resolve(new RegExp(`night ${date} finished`).test(log)), 'the night to end');
      expect(daemon.exitCode).toBeNull();
      expect(processesWith(path.join(fixture.root, date))).toEqual([]);
      daemon.kill('SIGTERM');
      expect((await daemon).exitCode).toBe(0);
    } finally {
      daemon.kill('SIGKILL');
      await daemon;
      await fixture.cleanup();
    }
  });
});

describe('nightshift cancel with the shared queue', () => {
  useFleet();

  it('cancels a build this machine runs and ends it for the fleet: no other machine builds it', async () => {
    const night = await fleet({ cells: 3, seconds: 4, machines: 2, slots: 1 });
    const m1 = night.run('m1');
    const m2 = night.run('m2');
    let mine = '';
    await until(async () => {
      mine = ((await night.state('m1'))?.builds ?? []).find((b) => b.status === 'running')?.id ?? '';
      return mine !== '';
    }, 'm1 to run a build');
    const canceled = await night.cli('m1', ['cancel', mine]);
    expect(canceled.stderr).toBe('');
    expect(canceled.exitCode).toBe(0);
    expect(canceled.stdout).toMatch(new RegExp(`^canceled ${mine} after \\S+ \\(canceled by nightshift cancel\\)$`, 'm'));

    const [r1, r2] = await Promise.all([m1, m2]);
    expect(r1.exitCode, String(r1.stderr)).toBe(1);
    expect(r2.exitCode, String(r2.stderr)).toBe(0);
    const built = await outcomes(night, ['m1', 'm2']);
    // Every cell ended once; the canceled one was not handed to m2.
    expect(built.filter((b) => b.id === mine)).toEqual([{ machine: 'm1', id: mine, status: 'canceled' }]);
    expect(
      built
        .filter((b) => b.status === 'succeeded')
        .map((b) => b.id)
        .sort(),
    ).toEqual(['job_01', 'job_02', 'job_03'].filter((id) => id !== mine));
  });
});
