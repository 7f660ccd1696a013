/**
 * Machines sharing a night through the queue (test/helpers/fleet.ts: a real redis-server, real
 * `nightshift run` processes with their own roots, one file:// destination): the night split as they
 * go, a machine joining late, and a queue that cannot be used.
 */
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { CLI, fleet, ids, outcomes, redisServer, until, useFleet } from '../helpers/fleet.js';
import { freePort } from '../helpers/redis.js';

useFleet();

describe('a night whose queue cannot be used', () => {
  it('exits 4 when Redis cannot be reached by the end of wait_at_start, never showing the password, and refuses --force', async () => {
    const night = await fleet({ cells: 2, seconds: 0, machines: 1, slots: 1, waitAtStartS: 1 });
    const port = await freePort();
    const unreachable = await execa('node', [CLI, 'run', '--config', night.configDir, '--machine', 'm1', '--root', night.roots.m1!, '--date', night.date], {
      reject: false,
      env: { NIGHTSHIFT_REDIS_URL: `redis://nightshift:s3cret-pw@127.0.0.1:${port}/0` },
    });
    expect(unreachable.exitCode).toBe(4);
    expect(unreachable.stdout).toContain(`the shared queue at redis://nightshift:***@127.0.0.1:${port}/0 cannot be reached; waiting up to 1s`);
    expect(unreachable.stderr).toContain(`cannot reach the queue's Redis at redis://nightshift:***@127.0.0.1:${port}/0`);
    expect(unreachable.stderr).toContain('(waited 1s, queue.wait_at_start)');
    expect(unreachable.stdout + unreachable.stderr).not.toContain('s3cret-pw');
    const forced = await night.cli('m1', ['run', '--force']);
    expect(forced.exitCode).toBe(2);
    expect(forced.stderr).toMatch(/--force cannot rebuild through the shared queue/);
  });
});

describe('machines sharing a night through the queue', () => {
  it('three machines build every cell once between them, and run ends when the night is over', async () => {
    const night = await fleet({ cells: 12, seconds: 1, machines: 3, slots: 2 });
    const results = await Promise.all(['m1', 'm2', 'm3'].map((m) => night.run(m)));
    for (const result of results) expect(result.exitCode, String(result.stderr)).toBe(0);
    const built = await outcomes(night, ['m1', 'm2', 'm3']);
    expect(built.map((b) => b.id).sort()).toEqual(ids(12));
    expect(built.every((b) => b.status === 'succeeded')).toBe(true);
    // Every machine took a share: 12 one-second builds on 3 × 2 slots.
    for (const machine of ['m1', 'm2', 'm3']) expect(built.filter((b) => b.machine === machine).length).toBeGreaterThan(0);
    const state = await night.state('m2');
    expect(state?.queue?.url).toBe(`${redisServer().url}/0`);
    expect(state?.queue?.unreachable_since).toBeUndefined();

    const report = await night.cli('m1', ['report', '--print']);
    expect(report.stdout).toMatch(/12 succeeded/);
    expect(report.stdout).not.toMatch(/missing/i);
  });

  it('a machine started mid-night joins at once and takes work', async () => {
    const night = await fleet({ cells: 8, seconds: 2, machines: 2, slots: 1 });
    const m1 = night.run('m1');
    await until(async () => ((await night.state('m1'))?.builds ?? []).some((b) => b.status === 'succeeded'), 'm1 ending a build');
    const m2 = night.run('m2');
    const [r1, r2] = await Promise.all([m1, m2]);
    expect(r1.exitCode, String(r1.stderr)).toBe(0);
    expect(r2.exitCode, String(r2.stderr)).toBe(0);
    const built = await outcomes(night, ['m1', 'm2']);
    expect(built.map((b) => b.id).sort()).toEqual(ids(8));
    expect(built.filter((b) => b.machine === 'm2').length).toBeGreaterThan(0);
  }, 90_000);
});
