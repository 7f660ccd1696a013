/**
 * Stopping a night: SIGTERM cancels running builds and leaves no container; a runner killed outright
 * (SIGKILL, out of memory) is cleaned up and resumed by the next run. Runs the real `nightshift` binary.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa, type ResultPromise } from 'execa';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { containersWithLabel, dockerAvailable, removeContainersWithLabel } from '../helpers/docker.js';
import { makeNightFixture, type NightFixture } from '../helpers/night-fixture.js';
import { runCli } from '../helpers/run-cli.js';
import type { NightState } from '../../src/night/state.js';

const CLI = path.resolve(import.meta.dirname, '../../dist/cli.js');

describe('stopping a night', () => {
  let night: NightFixture;
  let child: ResultPromise | undefined;
  const args = () => ['--config', night.configDir, '--date', night.date];
  const statePath = () => path.join(night.root, night.date, 'night.json');
  const state = async () => JSON.parse(await readFile(statePath(), 'utf8')) as NightState;
  const statuses = async () => Object.fromEntries((await state()).builds.map((b) => [b.id, b.status]));

  async function until(condition: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await condition().catch(() => false))) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await sleep(100);
    }
  }
  const twoRunning = async () =>
    Object.values(await statuses()).filter((s) => s === 'running').length === 2 && (await containersWithLabel(`nightshift.night=${night.date}`)).length === 2;

  beforeEach(async () => {
    await dockerAvailable();
    night = await makeNightFixture({ executor: 'docker', slowTimeout: '10m', slowPythons: ['3.10', '3.11', '3.12'], slots: 2 });
  });
  afterEach(async () => {
    child?.kill('SIGKILL');
    await removeContainersWithLabel(`nightshift.night=${night.date}`);
    await night.cleanup();
  });

  it('SIGTERM kills and removes running containers, marks them canceled and exits within 30 s', async () => {
    child = execa('node', [CLI, 'run', '--machine', 'm1', '--only', 'slow_*', ...args()], { reject: false });
    await until(twoRunning, 'two running builds');

    const second = await runCli(['run', '--machine', 'm1', '--only', 'slow_*', ...args()]);
    expect(second.exitCode).toBe(2);
    expect(second.stderr).toMatch(new RegExp(`pid ${child.pid!}`));

    const signaled = Date.now();
    child.kill('SIGTERM');
    const result = await child;
    expect(Date.now() - signaled).toBeLessThan(30_000);
    expect(result.exitCode, 'a canceled night has its own exit code').toBe(5);
    expect(String(result.stderr)).toMatch(/SIGTERM: stopping/);

    expect(await containersWithLabel(`nightshift.night=${night.date}`)).toEqual([]);
    const byStatus = Object.values(await statuses()).sort();
    expect(byStatus).toEqual(['canceled', 'canceled', 'pending']);
    const canceled = (await state()).builds.find((b) => b.status === 'canceled')!;
    expect(canceled.log).toMatch(/^logs\/failed\//);
    expect(await readFile(path.join(night.root, night.date, canceled.log!), 'utf8')).toMatch(/nightshift: canceled/);
    expect(existsSync(path.join(night.root, night.date, 'night.lock'))).toBe(false);
  });

  it('a runner killed outright is cleaned up and resumed by the next run', async () => {
    child = execa('node', [CLI, 'run', '--machine', 'm1', '--only', 'slow_*', ...args()], { reject: false });
    await until(twoRunning, 'two running builds');
    const orphans = await containersWithLabel(`nightshift.night=${night.date}`);
    child.kill('SIGKILL');
    await child;
    // Killing the runner does not stop its containers: they are still there.
    expect((await containersWithLabel(`nightshift.night=${night.date}`)).sort()).toEqual(orphans.sort());

    const status = await runCli(['status', ...args()]);
    expect(status.stdout).toMatch(/runner of this night is gone/);

    await night.commit({ 'slow.sh': 'echo "quick now" > "$NIGHTSHIFT_OUT/slow.whl"\n' }, 'make the slow build quick');
    const resumed = await runCli(['run', '--machine', 'm1', '--only', 'slow_*', '--refresh-recipes', ...args()]);
    expect(resumed.stderr).toBe('');
    expect(resumed.exitCode).toBe(0);
    const remaining = await containersWithLabel(`nightshift.night=${night.date}`);
    expect(remaining.filter((name) => orphans.includes(name))).toEqual([]);
    expect(await statuses()).toEqual({ 'slow_3.10_cpu': 'succeeded', 'slow_3.11_cpu': 'succeeded', 'slow_3.12_cpu': 'succeeded' });
    const attempts = (await state()).builds.map((b) => b.attempt).sort();
    expect(attempts).toEqual([1, 2, 2]);
    const master = await readFile(path.join(night.root, night.date, 'logs', 'master', 'run.log'), 'utf8');
    expect(master).toMatch(/was left running by an earlier runner; its container was removed/);
  });
});
