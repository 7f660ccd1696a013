/**
 * The machine's faults are not the build's: a Docker engine that is down, or dies while a build runs,
 * makes nightshift wait for it and run the build again; what still could not run is `not_run` and the
 * night exits 4. The engine is a proxy in front of the real one (test/helpers/docker-proxy.ts): the real
 * engine is never stopped, and every container is removed afterwards through the real socket.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DockerExecutor } from '../../src/build/docker-executor.js';
import { HostExecutor } from '../../src/build/host-executor.js';
import { reportOutcome } from '../../src/commands/night-summary.js';
import { loadSchedule } from '../../src/context.js';
import { runScheduledNight } from '../../src/runner/scheduled-night.js';
import type { NightState } from '../../src/night/state.js';
import { containersWithLabel, docker, dockerAvailable, removeContainersWithLabel } from '../helpers/docker.js';
import { DockerProxy } from '../helpers/docker-proxy.js';
import { makeNightFixture, type NightFixture } from '../helpers/night-fixture.js';
import { runCli } from '../helpers/run-cli.js';

describe('Docker engine faults', () => {
  let night: NightFixture;
  let dir: string;
  let proxy: DockerProxy;

  beforeEach(async () => {
    await dockerAvailable();
    night = await makeNightFixture({ executor: 'docker', slowTimeout: '1m', slots: 2 });
    // The slow build takes a few seconds, long enough to lose its engine midway.
    await night.commit({ 'slow.sh': 'echo "slow build starts"\nsleep 4\necho wheel > "$NIGHTSHIFT_OUT/slow.whl"\necho "slow build done"\n' }, 'a slow build of seconds');
    dir = await mkdtemp(path.join(os.tmpdir(), 'nightshift-proxy-'));
    proxy = new DockerProxy(path.join(dir, 'docker.sock'));
  });
  afterEach(async () => {
    await proxy.stop();
    // Through the real socket: whatever was started through the proxy goes too.
    await removeContainersWithLabel(`nightshift.night=${night.date}`);
    await night.cleanup();
    await rm(dir, { recursive: true, force: true });
  });

  /** Resolves once a container of the night really runs (asked through the real socket). */
  async function containerRunning(): Promise<void> {
    const deadline = Date.now() + 20_000;
    const running = async () => (await docker(['ps', '--filter', `label=nightshift.night=${night.date}`, '--filter', 'status=running', '-q'])).stdout !== '';
    while (!(await running()) && Date.now() < deadline) await sleep(100);
  }

  async function runNightThrough(only: string[], engineWaitMs: number, onStart?: () => void) {
    const { config, schedule } = await loadSchedule({ config: night.configDir });
    const docker = new DockerExecutor({ env: { ...process.env, DOCKER_HOST: proxy.dockerHost }, engineWaitMs, enginePollMs: 200 });
    const out: string[] = [];
    const err: string[] = [];
    const io = { out: (t: string) => void out.push(t), err: (t: string) => void err.push(t), write: async () => {}, isTTY: false };
    const { night: outcome } = await runScheduledNight(
      { config, schedule, date: night.date, machine: 'm1', only, purpose: 'run' },
      {
        executors: { docker, host: new HostExecutor() },
        signal: new AbortController().signal,
        onEvent: (event) => event.type === 'start' && onStart?.(),
        say: () => {},
        warn: () => {},
      },
    );
    const exitCode = reportOutcome(outcome, io, false);
    const state = JSON.parse(await readFile(path.join(night.root, night.date, 'night.json'), 'utf8')) as NightState;
    return { exitCode, out: out.join('\n'), err: err.join('\n'), state };
  }

  it('an engine that dies mid-build and comes back: the build runs again and succeeds', async () => {
    await proxy.start();
    let outage: Promise<void> | undefined;
    const result = await runNightThrough(['slow_*'], 30_000, () => {
      outage ??= (async () => {
        // Once the container runs, the engine "dies" for two seconds.
        await containerRunning();
        await sleep(500);
        await proxy.stop();
        await sleep(2000);
        await proxy.start();
      })();
    });
    await outage;
    expect(result.err).toBe('');
    expect(result.exitCode).toBe(0);
    const build = result.state.builds.find((b) => b.id === 'slow_3.12_cpu')!;
    expect(build).toMatchObject({ status: 'succeeded', exit_code: 0 });
    const log = await readFile(path.join(night.root, night.date, build.log!), 'utf8');
    expect(log).toMatch(/the Docker engine failed this build \(.*EOF.*\); waiting up to 30s/);
    expect(log).toMatch(/the Docker engine answers again: the build runs again from the start/);
    expect(log).toMatch(/slow build starts[^]*slow build starts[^]*slow build done/);
    // The first attempt's container did not outlive the engine's return.
    expect(await containersWithLabel(`nightshift.night=${night.date}`)).toEqual([]);
  });

  it('an engine that is down and stays down: the builds are not_run, said so, and the night exits 4', async () => {
    // The proxy never listens: the engine is down from the start.
    const started = Date.now();
    const result = await runNightThrough(['ok_*', 'bad_*'], 1500);
    expect(result.exitCode).toBe(4);
    expect(Object.fromEntries(result.state.builds.map((b) => [b.id, b.status]))).toEqual({ 'ok_3.11_cpu': 'not_run', 'ok_3.12_cpu': 'not_run', 'bad_3.12_cpu': 'not_run' });
    for (const build of result.state.builds) {
      expect(build.reason).toMatch(/^not run: the Docker engine on m1 was down \(Cannot connect to the Docker daemon/);
      expect(build.exit_code).toBeNull();
      expect(build.log).toBe(`logs/failed/${build.id}.log`);
    }
    expect(result.out).toMatch(/3 not_run/);
    expect(result.err).toMatch(/3 build\(s\) not run because of the machine \(not run: the Docker engine on m1 was down/);
    // The third build found the engine already given up for: it asked once, it did not wait again.
    expect(Date.now() - started).toBeLessThan(20_000);

    const status = await runCli(['status', '--config', night.configDir, '--date', night.date]);
    expect(status.stdout).toMatch(/ok_3\.11_cpu +not_run .*not run: the Docker engine on m1 was down/);
    const wait = await runCli(['wait', '--config', night.configDir, '--date', night.date]);
    expect(wait.exitCode).toBe(4);
  });

  it('an engine that dies mid-build and stays down: the build is not_run, not failed with exit code 125', async () => {
    await proxy.start();
    let outage: Promise<void> | undefined;
    const result = await runNightThrough(['slow_*'], 1500, () => {
      outage ??= (async () => {
        await containerRunning();
        await sleep(500);
        await proxy.stop();
      })();
    });
    await outage;
    expect(result.exitCode).toBe(4);
    const build = result.state.builds.find((b) => b.id === 'slow_3.12_cpu')!;
    expect(build.status).toBe('not_run');
    expect(build.reason).toMatch(/^not run: the Docker engine on m1 was down \(it went away while the build ran: .*EOF/);
  });
});
