/**
 * Machines sharing a night through the queue on a real redis-server, each a real `nightshift run`
 * process with its own root, all publishing to one file:// destination: the night split as they go, a
 * machine killed with -9 mid-night, a machine joining late, and Redis stopped and started again.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa, type ResultPromise } from 'execa';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { writeConfigDir, removeConfigDirs } from '../helpers/config-dir.js';
import { makeRecipesRepo, type RecipesRepo } from '../helpers/git.js';
import { startRedis } from '../helpers/redis.js';
import type { NightState } from '../../src/night/state.js';

const CLI = path.resolve(import.meta.dirname, '../../dist/cli.js');
type Redis = Awaited<ReturnType<typeof startRedis>>;

let redis: Redis;
let recipes: RecipesRepo;
const temps: string[] = [];
const children: ResultPromise[] = [];

beforeAll(async () => {
  redis = await startRedis({ persistent: true });
  // Each build sleeps for $SECONDS (a package env) and writes one artifact naming its machine.
  recipes = await makeRecipesRepo({ files: { 'work.sh': 'sleep "$SECONDS"\necho "job $NIGHTSHIFT_N on $NIGHTSHIFT_MACHINE" > "$NIGHTSHIFT_OUT/job-$NIGHTSHIFT_N.txt"\n' } });
});
afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
});
afterAll(async () => {
  await redis.stop();
  await recipes.cleanup();
  removeConfigDirs();
  for (const dir of temps) await rm(dir, { recursive: true, force: true });
});

let nights = 0;

interface Fleet {
  date: string;
  configDir: string;
  roots: Record<string, string>;
  dest: string;
  run(machine: string): ResultPromise;
  state(machine: string): Promise<NightState | undefined>;
  cli(machine: string, args: string[]): Promise<{ exitCode: number | undefined; stdout: string; stderr: string }>;
}

/** A night of `cells` one-artifact builds of `seconds` each, on machines m1..mN of `slots` slots, sharing the queue. */
async function fleet(options: { cells: number; seconds: number; machines: number; slots: number; leaseS?: number }): Promise<Fleet> {
  const base = await mkdtemp(path.join(os.tmpdir(), 'nightshift-fleet-'));
  temps.push(base);
  const names = Array.from({ length: options.machines }, (_, i) => `m${i + 1}`);
  const roots = Object.fromEntries(names.map((name) => [name, path.join(base, name)]));
  const dest = path.join(base, 'published');
  const n = Array.from({ length: options.cells }, (_, i) => `"${String(i + 1).padStart(2, '0')}"`);
  const matrix = `recipes: { repo: "${recipes.url}", ref: main }
axes:
  n: [${n.join(', ')}]
packages:
  job:
    executor: host
    command: ["sh", "-c", "exec sh \\"$NIGHTSHIFT_RECIPES/work.sh\\""]
    env: { SECONDS: "${options.seconds}" }
    estimate: 1m
    timeout: 5m
`;
  const schedule = `cron: "0 1 * * *"
timezone: UTC
root: "${roots.m1}"
machines:
${names.map((name) => `  ${name}: { slots: ${options.slots} }`).join('\n')}
queue: { url: "${redis.url}/0", lease: ${options.leaseS ?? 10}s }
upload: { to: "file://${dest}/{date}", key: "{id}/{file}" }
`;
  const configDir = writeConfigDir({ matrix, schedules: { nightly: schedule } });
  const date = `2031_01_${String(++nights).padStart(2, '0')}`;
  const args = (machine: string) => ['--config', configDir, '--machine', machine, '--root', roots[machine]!, '--date', date];
  return {
    date,
    configDir,
    roots,
    dest,
    run(machine) {
      const child = execa('node', [CLI, 'run', ...args(machine)], { reject: false, env: { NIGHTSHIFT_REDIS_URL: '' } });
      children.push(child);
      return child;
    },
    async state(machine) {
      const text = await readFile(path.join(roots[machine]!, date, 'night.json'), 'utf8').catch(() => undefined);
      return text === undefined ? undefined : (JSON.parse(text) as NightState);
    },
    async cli(machine, extra) {
      const result = await execa('node', [CLI, ...extra, ...args(machine)], { reject: false });
      return { exitCode: result.exitCode, stdout: String(result.stdout), stderr: String(result.stderr) };
    },
  };
}

async function until(condition: () => Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** Each machine's builds by status: id lists. */
async function outcomes(night: Fleet, machines: string[]) {
  const all: { machine: string; id: string; status: string }[] = [];
  for (const machine of machines) for (const b of (await night.state(machine))?.builds ?? []) all.push({ machine, id: b.id, status: b.status });
  return all;
}

const running = async (night: Fleet, machine: string) => ((await night.state(machine))?.builds ?? []).filter((b) => b.status === 'running').length;
const ids = (count: number) => Array.from({ length: count }, (_, i) => `job_${String(i + 1).padStart(2, '0')}`);

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
    expect(state?.queue?.url).toBe(`${redis.url}/0`);
    expect(state?.queue?.unreachable_since).toBeUndefined();

    const report = await night.cli('m1', ['report', '--print']);
    expect(report.stdout).toMatch(/12 succeeded/);
    expect(report.stdout).not.toMatch(/missing/i);
  });

  it('a machine killed with -9 mid-night loses its builds to the others after the lease; every cell succeeds', async () => {
    const night = await fleet({ cells: 9, seconds: 3, machines: 3, slots: 2, leaseS: 10 });
    const [m1, m2, m3] = ['m1', 'm2', 'm3'].map((m) => night.run(m));
    await until(async () => (await running(night, 'm3')) === 2, 'm3 running two builds');
    const orphans = (await night.state('m3'))!.builds.filter((b) => b.status === 'running').map((b) => b.id);
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

    const report = await night.cli('m1', ['report', '--print']);
    expect(report.stdout).toMatch(/9 succeeded/);
    expect(report.stdout).not.toMatch(/missing/i);
  }, 120_000);

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

  it('Redis stopped and started again mid-night: running builds finish, nothing is lost or built twice', async () => {
    const night = await fleet({ cells: 8, seconds: 3, machines: 2, slots: 2, leaseS: 10 });
    const [m1, m2] = ['m1', 'm2'].map((m) => night.run(m));
    await until(async () => (await running(night, 'm1')) === 2 && (await running(night, 'm2')) === 2, 'four builds running');
    // Down for longer than the lease: every lock runs out meanwhile.
    await redis.restart({ downMs: 12_000 });
    const [r1, r2] = await Promise.all([m1!, m2!]);
    expect(r1.exitCode, String(r1.stderr)).toBe(0);
    expect(r2.exitCode, String(r2.stderr)).toBe(0);
    expect(String(r1.stdout) + String(r2.stdout)).toMatch(/cannot be reached/);
    const built = await outcomes(night, ['m1', 'm2']);
    expect(built.map((b) => b.id).sort()).toEqual(ids(8));
    expect(built.every((b) => b.status === 'succeeded')).toBe(true);
    const state = await night.state('m1');
    expect(state?.queue?.unreachable_since).toBeUndefined();
  }, 120_000);
});
