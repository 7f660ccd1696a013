/**
 * Nothing a host build starts outlives it: a runner (the real `nightshift` binary) killed with SIGKILL
 * takes its builds' processes with it, setsid daemons included, and the resumed night holds only the
 * rerun's artifacts and keeps the killed attempt's log.
 */
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa, type ResultPromise } from 'execa';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeNightFixture, type NightFixture } from '../helpers/night-fixture.js';
import { processesWith } from '../helpers/processes.js';
import { runCli } from '../helpers/run-cli.js';
import type { NightState } from '../../src/night/state.js';

const CLI = path.resolve(import.meta.dirname, '../../dist/cli.js');

async function until(condition: () => Promise<boolean> | boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (
    !(await Promise.resolve()
      .then(condition)
      .catch(() => false))
  ) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

describe('host builds and a runner killed outright', () => {
  let night: NightFixture;
  let child: ResultPromise | undefined;
  const args = () => ['--config', night.configDir, '--machine', 'm1', '--date', night.date];
  const nightDir = () => path.join(night.root, night.date);
  const state = async () => JSON.parse(await readFile(path.join(nightDir(), 'night.json'), 'utf8')) as NightState;
  // Every process of this night's builds carries the night's (unique) date in its environment.
  const marker = () => `NIGHTSHIFT_DATE=${night.date}`;

  beforeEach(async () => {
    night = await makeNightFixture({ executor: 'host', slowTimeout: '10m', slots: 1 });
    // The build starts a daemon that leaves its process group and writes late into the artifact folder.
    await night.commit({ 'slow.sh': `setsid sh -c 'sleep 2; echo late > "$NIGHTSHIFT_OUT/late.whl"' &\necho "starting a long build"\nsleep 300\n` }, 'a slow build with a daemon');
  });
  afterEach(async () => {
    child?.kill('SIGKILL');
    for (const pid of processesWith(marker())) process.kill(pid, 'SIGKILL');
    await night.cleanup();
  });

  it("kill -9 of the runner kills the build and its setsid daemon; the resumed night has only the rerun's artifact", async () => {
    child = execa('node', [CLI, 'run', '--only', 'slow_*', ...args()], { reject: false });
    await until(async () => (await state()).builds[0]?.status === 'running' && processesWith(marker()).length >= 3, 'the build and its daemon');
    child.kill('SIGKILL');
    await child;
    await until(() => processesWith(marker()).length === 0, 'no process of the build left', 3000);

    await night.commit({ 'slow.sh': 'echo "quick now" > "$NIGHTSHIFT_OUT/slow.whl"\n' }, 'make the slow build quick');
    const resumed = await runCli(['run', '--only', 'slow_*', '--refresh-recipes', ...args()]);
    expect(resumed.exitCode).toBe(0);
    await sleep(2500); // past the moment the daemon would have written
    expect(await readdir(path.join(nightDir(), 'artifacts', 'slow_3.12_cpu'))).toEqual(['slow.whl']);
    expect((await state()).builds[0]).toMatchObject({ status: 'succeeded', attempt: 2, artifacts: [expect.objectContaining({ file: 'slow.whl' })] });
    // The killed attempt's log is kept beside the new one.
    expect(await readFile(path.join(nightDir(), 'logs', 'failed', 'slow_3.12_cpu.attempt-1.log'), 'utf8')).toMatch(/starting a long build/);
    expect(await readFile(path.join(nightDir(), 'logs', 'succeeded', 'slow_3.12_cpu.log'), 'utf8')).not.toMatch(/starting a long build/);
    expect(await readdir(path.join(nightDir(), 'work'))).not.toContain('slow_3.12_cpu.pid');
    // The namespace died with the runner: resume found nothing left to kill.
    expect(await readFile(path.join(nightDir(), 'logs', 'master', 'run.log'), 'utf8')).toMatch(
      /slow_3\.12_cpu was left running by an earlier runner; none of its processes was left and it runs again/,
    );
  });

  it("with namespaces off, resume kills the dead runner's build and daemon before the rerun empties its folder", async () => {
    await night.commit(
      { 'slow.sh': `setsid sh -c 'while :; do date > "$NIGHTSHIFT_OUT/late.whl"; sleep 0.1; done' &\necho "starting a long build"\nsleep 300\n` },
      'a daemon that keeps writing',
    );
    child = execa('node', [CLI, 'run', '--only', 'slow_*', ...args()], { reject: false, env: { NIGHTSHIFT_HOST_CONTAINMENT: 'process-group' } });
    await until(async () => (await state()).builds[0]?.status === 'running' && processesWith(marker()).length >= 3, 'the build and its daemon');
    child.kill('SIGKILL');
    await child;
    await sleep(300);
    const orphans = processesWith(marker());
    expect(orphans.length).toBeGreaterThanOrEqual(3); // a process group does not die with its runner

    await night.commit({ 'slow.sh': 'echo "quick now" > "$NIGHTSHIFT_OUT/slow.whl"\n' }, 'make the slow build quick');
    const resumed = await runCli(['run', '--only', 'slow_*', '--refresh-recipes', ...args()]);
    expect(resumed.exitCode).toBe(0);
    expect(processesWith(marker()).filter((pid) => orphans.includes(pid))).toEqual([]);
    await sleep(500);
    expect(await readdir(path.join(nightDir(), 'artifacts', 'slow_3.12_cpu'))).toEqual(['slow.whl']);
    expect(await readFile(path.join(nightDir(), 'logs', 'master', 'run.log'), 'utf8')).toMatch(
      /slow_3\.12_cpu was left running by an earlier runner; its processes were killed and it runs again/,
    );
  });
});
