/**
 * A fleet sharing a night through the queue when something fails (test/helpers/fleet.ts): a machine
 * killed with -9 mid-night, one stopped with SIGTERM, and Redis stopped and started again.
 */
import { describe, expect, it } from 'vitest';
import { fleet, ids, outcomes, redisServer, running, until, useFleet } from '../helpers/fleet.js';
import { redisCommand } from '../helpers/redis.js';

useFleet();

describe('a fleet sharing a night through the queue, when something fails', () => {
  it('a machine killed with -9 mid-night loses its builds to the others after the lease; every cell succeeds', async () => {
    const night = await fleet({ cells: 9, seconds: 6, machines: 3, slots: 2, leaseS: 10 });
    const [m1, m2, m3] = ['m1', 'm2', 'm3'].map((m) => night.run(m));
    await until(async () => (await running(night, 'm3')) === 2, 'm3 running two builds');
    const orphans = (await night.state('m3'))!.builds.filter((b) => b.status === 'running').map((b) => b.id);
    // Another machine sees live, from the queue, what m3 runs.
    const fleetView = JSON.parse((await night.cli('m1', ['status', '--all-machines', '--json'])).stdout) as { running: { id: string; machine: string }[] };
    for (const id of orphans) expect(fleetView.running).toContainEqual(expect.objectContaining({ id, machine: 'm3' }));
    m3!.kill('SIGKILL');
    const killed = Date.now();
    await m3;
    const [r1, r2] = await Promise.all([m1!, m2!]);
    expect(r1.exitCode, String(r1.stderr)).toBe(0);
    expect(r2.exitCode, String(r2.stderr)).toBe(0);
    // The survivors stayed for the takeover: the night ended at least a lease after the kill.
    expect(Date.now() - killed).toBeGreaterThanOrEqual(10_000);
    const built = (await outcomes(night, ['m1', 'm2'])).filter((b) => b.status === 'succeeded');
    const m3Done = (await outcomes(night, ['m3'])).filter((b) => b.status === 'succeeded').map((b) => b.id);
    expect([...built.map((b) => b.id), ...m3Done].sort()).toEqual(ids(9));
    for (const id of orphans) expect(built.map((b) => b.id)).toContain(id);

    // The report merges what m1 and m2 published: every cell, none missing although m3 published nothing.
    const report = await night.cli('m1', ['report', '--print']);
    expect(report.stdout).toMatch(/0 of 9 builds failed/);
    expect(report.stdout).toMatch(/job(\s+ok \d+s){9}\n/);
    expect(report.stdout).not.toMatch(/builds? (is|are) missing/);
  }, 120_000);

  it('a machine stopped with SIGTERM gives its builds back at once: another machine runs them without waiting for the lease', async () => {
    const night = await fleet({ cells: 6, seconds: 4, machines: 2, slots: 2, leaseS: 30 });
    const [m1, m2] = ['m1', 'm2'].map((m) => night.run(m));
    await until(async () => (await running(night, 'm2')) === 2, 'm2 running two builds');
    const given = (await night.state('m2'))!.builds.filter((b) => b.status === 'running').map((b) => b.id);
    m2!.kill('SIGTERM');
    const stopped = await m2!;
    const exited = Date.now();
    expect(stopped.exitCode).toBe(5);
    const r1 = await m1!;
    expect(r1.exitCode, String(r1.stderr)).toBe(0);
    const m1Builds = (await night.state('m1'))!.builds;
    for (const id of given) {
      const build = m1Builds.find((b) => b.id === id);
      expect(build?.status).toBe('succeeded');
      // Well within the 30 s lease: handed back, not taken over.
      expect(Date.parse(build!.started_at!) - exited).toBeLessThan(10_000);
    }
    expect((await night.state('m2'))!.builds.filter((b) => given.includes(b.id)).map((b) => b.status)).toEqual(['canceled', 'canceled']);
  }, 90_000);

  it('Redis stopped and started again mid-night: running builds finish, nothing is lost or built twice', async () => {
    const night = await fleet({ cells: 8, seconds: 3, machines: 2, slots: 2, leaseS: 10 });
    const [m1, m2] = ['m1', 'm2'].map((m) => night.run(m));
    await until(async () => (await running(night, 'm1')) === 2 && (await running(night, 'm2')) === 2, 'four builds running');
    // Down for longer than the lease: every lock runs out meanwhile.
    await redisServer().restart({ downMs: 12_000 });
    const [r1, r2] = await Promise.all([m1!, m2!]);
    expect(r1.exitCode, String(r1.stderr)).toBe(0);
    expect(r2.exitCode, String(r2.stderr)).toBe(0);
    expect(String(r1.stdout) + String(r2.stdout)).toMatch(/cannot be reached/);
    const built = await outcomes(night, ['m1', 'm2']);
    expect(built.map((b) => b.id).sort()).toEqual(ids(8));
    expect(built.every((b) => b.status === 'succeeded')).toBe(true);
    const state = await night.state('m1');
    expect(state?.queue?.unreachable_since).toBeUndefined();
    expect(state?.queue?.outages).toEqual([{ from: expect.any(String) as unknown, to: expect.any(String) as unknown }]);
    // The morning report says so too.
    const report = await night.cli('m1', ['report', '--print']);
    expect(report.stdout).toMatch(/m1 could not reach the shared queue \d\d:\d\d:\d\d UTC to \d\d:\d\d:\d\d UTC: its running builds went on/);
    expect(report.stdout).toMatch(/all 8 builds succeeded/);
  }, 120_000);

  it('Redis down when the night starts: the machine waits for it, then runs the night; the wait is an outage of the night', async () => {
    const night = await fleet({ cells: 2, seconds: 1, machines: 1, slots: 2 });
    const back = redisServer().restart({ downMs: 3000 });
    await until(async () => !(await answers()), 'Redis to stop');
    const m1 = night.run('m1');
    await back;
    const r1 = await m1;
    expect(r1.exitCode, String(r1.stderr)).toBe(0);
    expect(String(r1.stdout)).toMatch(/the shared queue at redis:\/\/127\.0\.0\.1:\d+\/0 cannot be reached; waiting up to 15m for it before the night's builds start/);
    expect(String(r1.stdout)).toMatch(/the shared queue at \S+ is reachable again/);
    expect((await outcomes(night, ['m1'])).map((b) => [b.id, b.status]).sort()).toEqual(ids(2).map((id) => [id, 'succeeded']));
    expect((await night.state('m1'))?.queue?.outages).toEqual([{ from: expect.any(String) as unknown, to: expect.any(String) as unknown }]);
  }, 60_000);

  it('gives up after queue.wait_at_start with exit 4, saying how long it waited', async () => {
    const night = await fleet({ cells: 1, seconds: 1, machines: 1, slots: 1, waitAtStartS: 2 });
    const back = redisServer().restart({ downMs: 4000 });
    try {
      await until(async () => !(await answers()), 'Redis to stop');
      const started = Date.now();
      const r1 = await night.run('m1');
      expect(r1.exitCode).toBe(4);
      expect(Date.now() - started).toBeGreaterThanOrEqual(2000);
      expect(String(r1.stderr)).toMatch(/cannot reach the queue's Redis at redis:\/\/127\.0\.0\.1:\d+\/0: .* \(waited 2s, queue\.wait_at_start\)\. Check queue\.url/);
      expect(String(r1.stderr)).not.toMatch(/internal error/);
    } finally {
      await back;
    }
  }, 60_000);
});

/** Whether the file's Redis answers PING now. */
async function answers(): Promise<boolean> {
  return redisCommand(redisServer().port, 'PING').then(
    (reply) => reply.includes('PONG'),
    () => false,
  );
}
