/**
 * `status --all-machines` and `plan --all-machines` of a schedule with the shared queue, against a real
 * redis-server and the built CLI as a process. Two queue objects stand for the machines m1 and m2 taking
 * and ending builds; the CLI only reads.
 */
import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openNightQueue, type NightCell, type NightQueue } from '../../src/queue/night-queue.js';
import { emptyNightState, writeNightState } from '../../src/night/state.js';
import { removeConfigDirs, writeConfigDir } from '../helpers/config-dir.js';
import { freePort, redisCommand, startRedis, type RedisServer } from '../helpers/redis.js';

const CLI = path.resolve(import.meta.dirname, '../../dist/cli.js');
const DATE = '2026_11_30';
const PAST = '2026_11_29';

let redis: RedisServer;
let root = '';
let configDir = '';
const opened: NightQueue[] = [];

const MATRIX = `recipes: { repo: "https://git.example.com/recipes.git", ref: main }
axes:
  python: ["3.12", "3.13"]
  cuda: [cpu]
packages:
  manywheel:
    image: "builder:{cuda}"
    command: ["sh", "-c", "true"]
    estimate: 70m
  conda:
    image: "conda-builder:{cuda}"
    command: ["sh", "-c", "true"]
    axes: { python: ["3.12"] }
    estimate: 15m
  libtorch:
    executor: host
    command: ["sh", "-c", "true"]
    axes: { python: [] }
    estimate: 50m
`;

/** The night's cells as a machine adds them to the queue. */
const CELLS: NightCell[] = [
  { id: 'manywheel_3.12_cpu', estimateS: 4200, needs: {} },
  { id: 'manywheel_3.13_cpu', estimateS: 4200, needs: {} },
  { id: 'libtorch_cpu', estimateS: 3000, needs: {} },
  { id: 'conda_3.12_cpu', estimateS: 900, needs: {} },
];

beforeAll(async () => {
  redis = await startRedis();
  root = await mkdtemp(path.join(os.tmpdir(), 'nightshift-fleet-'));
  const schedule = `cron: "0 1 * * *"
timezone: UTC
root: "${root}/nights"
machines:
  m1: { slots: 2 }
  m2: { slots: 2 }
  m3: { slots: 1, builds: ["libtorch_*"] }
upload: { to: "file://${root}/dest" }
queue: { url: "${redis.url}/0", lease: 30s }
`;
  configDir = writeConfigDir({ matrix: MATRIX, schedules: { nightly: schedule } });
});

afterAll(async () => {
  for (const queue of opened) await queue.close();
  await redis.stop();
  removeConfigDirs();
  await rm(root, { recursive: true, force: true });
});

async function nightshift(args: string[], env: Record<string, string> = {}) {
  return execa('node', [CLI, '--config', configDir, ...args], { reject: false, env: { NIGHTSHIFT_REDIS_URL: '', ...env } });
}

async function machineQueue(machine: string): Promise<NightQueue> {
  const queue = await openNightQueue({ url: `${redis.url}/0`, schedule: 'nightly', date: DATE, machine, leaseMs: 30_000 });
  opened.push(queue);
  return queue;
}

interface LiveJson {
  source: string;
  queue: { url: string; reachable: boolean };
  running: { id: string; machine: string; since: string; running_s: number }[];
  waiting: { id: string; estimate_s: number }[];
  ended: { id: string; status: string; machine: string | null; finished_at: string | null }[];
  counts: { running: number; waiting: number; ended: Record<string, number> };
  over: boolean;
}

describe('status --all-machines with the shared queue', () => {
  let since = '';
  let finishedAt = '';
  let m2: NightQueue;
  let running: Awaited<ReturnType<NightQueue['take']>>;

  beforeAll(async () => {
    const m1 = await machineQueue('m1');
    m2 = await machineQueue('m2');
    await m1.addNight(CELLS);
    // m2 takes the longest build and runs it; m1 takes the next one and fails it.
    running = await m2.take(() => true);
    since = new Date(running!.processedOn!).toISOString();
    const failed = await m1.take(() => true);
    finishedAt = new Date().toISOString();
    await m1.fail(failed!, { status: 'failed', machine: 'm1', finished_at: finishedAt });
  });

  it('shows what runs where since when, what waits and what ended, live from the queue', async () => {
    const result = await nightshift(['status', '--all-machines', '--date', DATE]);
    expect(result.stderr).toBe('');
    expect(result.exitCode).toBe(0);
    const lines = result.stdout.split('\n');
    expect(lines[0]).toBe(`night ${DATE} · live from the shared queue at ${redis.url}/0 (times in UTC)`);
    const hhmm = since.slice(11, 16);
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^m2 +manywheel_3\\.12_cpu +${hhmm} +\\d+s$`)));
    expect(lines).toContainEqual(expect.stringMatching(/^m1 +\(nothing running\)$/));
    expect(lines).toContain('waiting: 2, next: libtorch_cpu (50m), conda_3.12_cpu (15m)');
    expect(lines).toContain('ended: 1 (1 failed)');
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^ {2}failed +manywheel_3\\.13_cpu +on m1 +at ${finishedAt.slice(11, 16)}$`)));
    expect(result.stdout).not.toMatch(/the night is over/);
  });

  it('gives the same facts as JSON', async () => {
    const result = await nightshift(['status', '--all-machines', '--json', '--date', DATE]);
    expect(result.exitCode).toBe(0);
    const live = JSON.parse(result.stdout) as LiveJson;
    expect(live.source).toBe('queue');
    expect(live.queue).toEqual({ url: `${redis.url}/0`, reachable: true, exists: true });
    expect(live.running).toEqual([{ id: 'manywheel_3.12_cpu', machine: 'm2', since, running_s: expect.any(Number) as number }]);
    expect(live.waiting).toEqual([
      { id: 'libtorch_cpu', estimate_s: 3000 },
      { id: 'conda_3.12_cpu', estimate_s: 900 },
    ]);
    expect(live.ended).toEqual([{ id: 'manywheel_3.13_cpu', status: 'failed', machine: 'm1', finished_at: finishedAt, reason: null }]);
    expect(live.counts).toEqual({ running: 1, waiting: 2, ended: { failed: 1 } });
    expect(live.over).toBe(false);
  });

  it('says when the night is over', async () => {
    const m3 = await machineQueue('m3');
    for (const [queue, name] of [
      [m3, 'm3'],
      [m2, 'm2'],
    ] as const) {
      for (let job = await queue.take(() => true); job; job = await queue.take(() => true)) {
        await queue.finish(job, { status: 'succeeded', machine: name, finished_at: new Date().toISOString() });
      }
    }
    await m2.finish(running!, { status: 'succeeded', machine: 'm2', finished_at: new Date().toISOString() });
    const result = await nightshift(['status', '--all-machines', '--date', DATE]);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toContain('ended: 4 (1 failed, 3 succeeded)');
    expect(result.stdout).toContain('waiting: none');
    expect(result.stdout).toMatch(/^m2 +\(nothing running\)$/m);
    expect(result.stdout.trimEnd().split('\n').at(-1)).toBe('the night is over: nothing waits or runs');
  });

  it('shows the published manifests for a night the queue does not hold', async () => {
    const result = await nightshift(['status', '--all-machines', '--date', PAST]);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toContain(`the shared queue at ${redis.url}/0 holds no night ${PAST}`);
    expect(result.stdout).toContain('m1: nothing published for this night');
    const json = JSON.parse((await nightshift(['status', '--all-machines', '--json', '--date', PAST])).stdout) as { source: string; queue: object };
    expect(json.source).toBe('manifests');
    expect(json.queue).toEqual({ url: `${redis.url}/0`, reachable: true, exists: false });
    // A reader leaves nothing behind: no key of that night's queue was made.
    expect(await redisCommand(redis.port, 'KEYS', `nightshift:nightly.${PAST}*`)).toBe('*0\r\n');
  });
});

describe('status of this machine', () => {
  it('says when its night.json records the shared queue unreachable', async () => {
    const dir = path.join(root, 'nights', DATE);
    await mkdir(dir, { recursive: true });
    const state = emptyNightState({ date: DATE, machine: 'm1', schedule: 'nightly' }, new Date('2026-12-01T02:00:00Z'));
    state.queue = { url: 'redis://:***@redis.example.com:6379/0', unreachable_since: '2026-12-01T02:47:12Z' };
    await writeNightState(path.join(dir, 'night.json'), state);
    const result = await nightshift(['status', '--date', DATE]);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toContain('the shared queue at redis://:***@redis.example.com:6379/0 has been unreachable since 02:47; running builds go on, nothing new starts');
    const json = JSON.parse((await nightshift(['status', '--json', '--date', DATE])).stdout) as { queue: object };
    expect(json.queue).toEqual({ url: 'redis://:***@redis.example.com:6379/0', unreachable_since: '2026-12-01T02:47:12Z' });
  });
});

describe('plan --all-machines with the shared queue', () => {
  it('says the split is dynamic and which machines may build each cell', async () => {
    const result = await nightshift(['plan', '--all-machines', '--date', DATE]);
    expect(result.exitCode).toBe(0);
    const lines = result.stdout.split('\n');
    expect(lines[0]).toBe(`nightly · night ${DATE} (UTC) · 4 builds · the split is dynamic`);
    expect(lines[1]).toContain(`the machines pull their builds from the shared queue at ${redis.url}/0, longest expected first`);
    // 4h35m of work: m1 and m2 share the three docker builds over four slots, m3 builds libtorch alone.
    expect(lines[2]).toBe('expected night 1h10m: total work 3h25m over 3 machines (5 slots)');
    expect(lines).toContainEqual(expect.stringMatching(/^1 +manywheel_3\.12_cpu +builder:cpu +1h10m +config +m1, m2$/));
    expect(lines).toContainEqual(expect.stringMatching(/^3 +libtorch_cpu +\(host\) +50m +config +m3$/));
  });

  it('shows one machine the cells it may build', async () => {
    const result = await nightshift(['plan', '--machine', 'm3', '--date', DATE]);
    expect(result.exitCode).toBe(0);
    expect(result.stdout.split('\n')[0]).toBe(`nightly · night ${DATE} (UTC) · 1 build · the split is dynamic`);
    expect(result.stdout).toMatch(/^3 +libtorch_cpu +\(host\) +50m +config +m3$/m);
    expect(result.stdout).not.toContain('manywheel');
  });

  it('gives the same as JSON', async () => {
    const result = await nightshift(['plan', '--all-machines', '--json', '--date', DATE]);
    expect(result.exitCode).toBe(0);
    const plan = JSON.parse(result.stdout) as {
      split: string;
      expected_s: number;
      total_work_s: number;
      slots: number;
      builds: { id: string; order: number; machines: string[] }[];
    };
    expect(plan.split).toBe('dynamic');
    expect([plan.expected_s, plan.total_work_s, plan.slots]).toEqual([4200, 12300, 5]);
    expect(plan.builds.map((b) => [b.order, b.id, b.machines])).toEqual([
      [1, 'manywheel_3.12_cpu', ['m1', 'm2']],
      [2, 'manywheel_3.13_cpu', ['m1', 'm2']],
      [3, 'libtorch_cpu', ['m3']],
      [4, 'conda_3.12_cpu', ['m1', 'm2']],
    ]);
  });
});

// Last: the server goes away.
describe('status --all-machines while Redis is down', () => {
  // The machines' queues first: they would wait for the server to come back.
  beforeAll(async () => {
    for (const queue of opened.splice(0)) await queue.close();
    await redis.stop();
  });

  it('says the queue cannot be reached, without its password, shows the manifests and exits 4', async () => {
    const withPassword = `redis://:s3cret-pw@127.0.0.1:${redis.port}/0`;
    const result = await nightshift(['status', '--all-machines', '--date', DATE], { NIGHTSHIFT_REDIS_URL: withPassword });
    expect(result.exitCode).toBe(4);
    const [first, ...rest] = result.stdout.split('\n');
    expect(first).toMatch(
      new RegExp(`^no live view, the published manifests follow: cannot reach the shared queue's Redis at redis://:\\*\\*\\*@127\\.0\\.0\\.1:${redis.port}/0: `),
    );
    expect(rest).toContain(`night ${DATE} at file://${root}/dest/`);
    expect(rest).toContain('m1: nothing published for this night (not run yet, still running, or its upload failed)');
    expect(result.stdout + result.stderr).not.toContain('s3cret-pw');

    const json = await nightshift(['status', '--all-machines', '--json', '--date', DATE], { NIGHTSHIFT_REDIS_URL: withPassword });
    expect(json.exitCode).toBe(4);
    expect(json.stderr).toMatch(/^nightshift: warning: cannot reach the shared queue's Redis/);
    const parsed = JSON.parse(json.stdout) as { source: string; queue: { reachable: boolean; url: string } };
    expect(parsed.source).toBe('manifests');
    expect(parsed.queue).toMatchObject({ reachable: false, url: `redis://:***@127.0.0.1:${redis.port}/0` });
    expect(json.stdout + json.stderr).not.toContain('s3cret-pw');
  });

  it('gives up on a server that accepts and never answers', async () => {
    const silent = net.createServer(() => undefined);
    const port = await freePort();
    await new Promise<void>((resolve) => silent.listen(port, '127.0.0.1', resolve));
    try {
      const result = await nightshift(['status', '--all-machines', '--date', DATE], { NIGHTSHIFT_REDIS_URL: `redis://127.0.0.1:${port}/0` });
      expect(result.exitCode).toBe(4);
      expect(result.stdout).toContain(`no live view, the published manifests follow: cannot reach the shared queue's Redis at redis://127.0.0.1:${port}/0: no answer within 3 s.`);
      expect(result.stdout).toContain('m1: nothing published for this night');
    } finally {
      silent.close();
    }
  });
});
