/**
 * /metrics against real nights: a night of host builds run by the built CLI (some fail, one times out),
 * uploaded to a file:// destination where one key cannot be written, then caught up by `nightshift
 * upload`; a newer night whose run holds the lock; a night.json that cannot be read; and the shared
 * queue on a real redis-server, then with Redis stopped. Every scrape must pass `promtool check metrics`
 * and agree with night.json; the example alert rules pass `promtool check rules` and `test rules`.
 */
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import os from 'node:os';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Schedule } from '../../src/config/model.js';
import { loadSchedule } from '../../src/context.js';
import { BUILD_STATUSES, nightLayout } from '../../src/night/layout.js';
import { acquireNightLock } from '../../src/night/lock.js';
import { addDays } from '../../src/night/night-date.js';
import { readNightState, writeNightState, type NightState } from '../../src/night/state.js';
import { openNightQueue, type NightQueue } from '../../src/queue/night-queue.js';
import { BUILD_DURATION_BUCKETS, renderMetrics } from '../../src/server/metrics.js';
import { makeNightFixture, type NightFixture } from '../helpers/night-fixture.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { startServe } from '../helpers/serve.js';

const CLI = path.resolve(import.meta.dirname, '../../dist/cli.js');
const RULES = path.resolve(import.meta.dirname, '../../examples/prometheus/nightshift-alerts.yml');
const RULE_TESTS = path.resolve(import.meta.dirname, '../fixtures/prometheus/nightshift-alerts.test.yml');

let night: NightFixture;
let schedule: Schedule;
let destination = '';

beforeAll(async () => {
  destination = await mkdtemp(path.join(os.tmpdir(), 'nightshift-metrics-dest-'));
  night = await makeNightFixture({ executor: 'host', scheduleExtra: `upload:\n  to: "file://${destination}/{date}"\n  key: "{package}/{python}/{file}"\n` });
  schedule = (await loadSchedule({ config: night.configDir })).schedule;
  // An empty file where the ok builds' artifacts need a folder: those two objects fail, the rest goes.
  await mkdir(path.join(destination, night.date), { recursive: true });
  await writeFile(path.join(destination, night.date, 'ok'), '');
  const run = await nightshift(['run', '--date', night.date]);
  expect(run.exitCode, run.stderr).toBe(4); // some uploads failed (and builds too, as the fixture means them to)
}, 60_000);

afterAll(async () => {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset when the before-hook failed
  await night?.cleanup();
  await rm(destination, { recursive: true, force: true });
});

function nightshift(args: string[]) {
  return execa('node', [CLI, '--config', night.configDir, '--machine', 'm1', ...args], { reject: false, env: { NIGHTSHIFT_REDIS_URL: '' } });
}

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Scrapes, checks the text with promtool (format and lint), and parses its samples. */
async function scrape(options: { schedule?: Schedule; env?: NodeJS.ProcessEnv } = {}): Promise<{ body: string; samples: Sample[] }> {
  const { contentType, body } = await renderMetrics({ schedule: options.schedule ?? schedule, machine: 'm1', env: options.env ?? {} });
  expect(contentType).toBe('text/plain; version=0.0.4; charset=utf-8');
  const check = await execa('promtool', ['check', 'metrics'], { input: body, reject: false });
  expect(check.exitCode, `${check.stdout}${check.stderr}\n${body}`).toBe(0);
  return { body, samples: parseSamples(body) };
}

/** The sample lines of Prometheus text (promtool has checked the format): name, labels, value. */
function parseSamples(body: string): Sample[] {
  return body
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const match = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(line);
      if (!match) throw new Error(`not a sample line: ${line}`);
      const labels = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
      return { name: match[1]!, labels, value: Number(match[3]) };
    });
}

/** The one sample of `name` whose labels include `labels`; undefined when there is none. */
function valueOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  expect(found.length, `${name} ${JSON.stringify(labels)}`).toBeLessThanOrEqual(1);
  return found[0]?.value;
}

const stateOf = async (date: string) => (await readNightState(nightLayout(night.root, date).state))!;
const seconds = (iso: string) => Date.parse(iso) / 1000;

/** Every file under `dir` by path relative to it: its size, and its inode (a file destination writes a new one for each object). */
async function filesUnder(dir: string): Promise<Map<string, { size: number; ino: number }>> {
  const files = new Map<string, { size: number; ino: number }>();
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath, entry.name);
    const { size, ino } = await stat(file);
    files.set(path.relative(dir, file), { size, ino });
  }
  return files;
}
const total = (sizes: Iterable<number>) => [...sizes].reduce((sum, size) => sum + size, 0);

describe('a finished night', () => {
  it('counts the builds by status, every status present, as night.json has them', async () => {
    const state = await stateOf(night.date);
    const { samples } = await scrape();
    expect(valueOf(samples, 'nightshift_night_info', { date: night.date })).toBe(1);
    for (const status of BUILD_STATUSES) {
      expect(valueOf(samples, 'nightshift_builds', { status }), status).toBe(state.builds.filter((b) => b.status === status).length);
    }
    // The fixture's night: ok × 2 succeed, bad fails, slow times out, empty fails (no artifact), opt succeeds.
    expect(valueOf(samples, 'nightshift_builds', { status: 'failed' })).toBe(2);
    expect(valueOf(samples, 'nightshift_builds', { status: 'timed_out' })).toBe(1);
    expect(valueOf(samples, 'nightshift_builds', { status: 'succeeded' })).toBe(3);
    expect(samples.every((s) => s.labels.schedule === 'nightly' && s.labels.machine === 'm1')).toBe(true);
  });

  it('puts every ended build in the duration histogram by status, with night.json durations', async () => {
    const state = await stateOf(night.date);
    const { samples } = await scrape();
    for (const status of ['succeeded', 'failed', 'timed_out'] as const) {
      const durations = state.builds.filter((b) => b.status === status).map((b) => b.duration_s!);
      expect(valueOf(samples, 'nightshift_build_duration_seconds_count', { status })).toBe(durations.length);
      expect(valueOf(samples, 'nightshift_build_duration_seconds_sum', { status })).toBeCloseTo(total(durations), 6);
      for (const le of BUILD_DURATION_BUCKETS) {
        expect(valueOf(samples, 'nightshift_build_duration_seconds_bucket', { status, le: String(le) })).toBe(durations.filter((d) => d <= le).length);
      }
      expect(valueOf(samples, 'nightshift_build_duration_seconds_bucket', { status, le: '+Inf' })).toBe(durations.length);
    }
    // The timed-out build ran about its 2 s timeout.
    expect(valueOf(samples, 'nightshift_build_duration_seconds_sum', { status: 'timed_out' })).toBeGreaterThanOrEqual(2);
  });

  it("gives the night's start and end, and says it is not running", async () => {
    const state = await stateOf(night.date);
    const { samples } = await scrape();
    expect(valueOf(samples, 'nightshift_night_running')).toBe(0);
    expect(valueOf(samples, 'nightshift_night_started_timestamp_seconds')).toBe(seconds(state.started_at!));
    expect(valueOf(samples, 'nightshift_last_night_finished_timestamp_seconds')).toBe(seconds(state.finished_at!));
    expect(valueOf(samples, 'nightshift_night_state_unreadable')).toBe(0);
  });

  it('reports the upload: objects by result, the failures, and the bytes it wrote', async () => {
    const { upload } = await stateOf(night.date);
    expect(upload!.failed.map((f) => f.key).sort()).toEqual([`${night.date}/ok/3.11/pkg-3.11.whl`, `${night.date}/ok/3.12/pkg-3.12.whl`]);
    const { samples } = await scrape();
    expect(valueOf(samples, 'nightshift_upload_objects', { result: 'failed' })).toBe(2);
    expect(valueOf(samples, 'nightshift_upload_objects', { result: 'uploaded' })).toBe(upload!.uploaded);
    expect(valueOf(samples, 'nightshift_upload_objects', { result: 'skipped' })).toBe(0);
    expect(valueOf(samples, 'nightshift_upload_finished_timestamp_seconds')).toBe(seconds(upload!.finished_at));
    // The destination was empty (but for the 0-byte blocker): everything in it now is what this upload wrote.
    const written = total([...(await filesUnder(destination)).values()].map((f) => f.size));
    expect(written).toBeGreaterThan(0);
    expect(upload!.bytes).toBe(written);
    expect(valueOf(samples, 'nightshift_upload_bytes')).toBe(written);
  });

  it('follows `nightshift upload` catching up: no failures, and only the bytes sent this time', async () => {
    await rm(path.join(destination, night.date, 'ok'));
    const before = await filesUnder(destination);
    const again = await nightshift(['upload', '--date', night.date]);
    expect(again.exitCode, again.stderr).toBe(0);
    const after = await filesUnder(destination);
    const state = await stateOf(night.date);
    // Written now (new files, or new inodes): the two wheels, the manifest that now names them, their
    // latest pointers and the shared history. The logs were there with the same content: skipped.
    const written = [...after].filter(([key, file]) => before.get(key)?.ino !== file.ino);
    const wheels = [`${night.date}/ok/3.11/pkg-3.11.whl`, `${night.date}/ok/3.12/pkg-3.12.whl`];
    expect(written.map(([key]) => key)).toEqual(expect.arrayContaining([...wheels, 'nightshift/latest/ok_3.11_cpu.json', 'nightshift/history/m1.json']));
    expect(written.some(([key]) => key.includes('/logs/'))).toBe(false);
    const { samples } = await scrape();
    expect(valueOf(samples, 'nightshift_upload_objects', { result: 'failed' })).toBe(0);
    expect(valueOf(samples, 'nightshift_upload_objects', { result: 'skipped' })).toBe(state.upload!.skipped);
    expect(state.upload!.skipped).toBe(state.builds.filter((b) => b.log !== undefined).length);
    expect(valueOf(samples, 'nightshift_upload_bytes')).toBe(total(written.map(([, file]) => file.size)));
  });
});

describe('GET /metrics of nightshift serve', () => {
  it('serves the same figures as Prometheus text, with the token as a bearer token when one is set', async () => {
    const state = await stateOf(night.date);
    const env = { PATH: process.env.PATH, HOME: process.env.HOME, NIGHTSHIFT_SERVE_TOKEN: 'metrics-test-token', NIGHTSHIFT_REDIS_URL: '' };
    const server = await startServe(['--config', night.configDir, '--machine', 'm1'], env);
    try {
      const refused = await fetch(new URL('metrics', server.url));
      expect(refused.status).toBe(401);
      const response = await fetch(new URL('metrics', server.url), { headers: { authorization: 'Bearer metrics-test-token' } });
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
      const body = await response.text();
      const check = await execa('promtool', ['check', 'metrics'], { input: body, reject: false });
      expect(check.exitCode, `${check.stdout}${check.stderr}`).toBe(0);
      const samples = parseSamples(body);
      for (const status of BUILD_STATUSES) {
        expect(valueOf(samples, 'nightshift_builds', { status }), status).toBe(state.builds.filter((b) => b.status === status).length);
      }
      expect(valueOf(samples, 'nightshift_last_night_finished_timestamp_seconds')).toBe(Date.parse(state.finished_at!) / 1000);
      expect(body).not.toContain('metrics-test-token');
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });
});

describe('a night that runs now', () => {
  let tomorrow = '';
  let finished: NightState;

  beforeAll(async () => {
    finished = await stateOf(night.date);
    tomorrow = addDays(night.date, 1);
    const layout = nightLayout(night.root, tomorrow);
    await mkdir(layout.dir, { recursive: true });
    const startedAt = new Date().toISOString();
    // As a run leaves it between builds: started, its builds pending but one, its pid, no end.
    await writeNightState(layout.state, {
      ...finished,
      date: tomorrow,
      started_at: startedAt,
      updated_at: startedAt,
      finished_at: undefined,
      upload: undefined,
      runner_pid: process.pid,
      builds: finished.builds.map(({ id, package: pkg, axes, executor, image, order, estimate_s }, index) => ({
        id,
        package: pkg,
        axes,
        executor,
        image,
        order,
        estimate_s,
        attempt: index === 0 ? 1 : 0,
        status: index === 0 ? 'running' : 'pending',
        ...(index === 0 && { started_at: startedAt }),
      })),
    });
  });

  it('is the current night, running while its runner holds the lock; the last finished night and upload stay the earlier ones', async () => {
    const lock = await acquireNightLock(nightLayout(night.root, tomorrow).lock, { purpose: 'run' });
    try {
      const state = await stateOf(tomorrow);
      const { samples } = await scrape();
      expect(valueOf(samples, 'nightshift_night_info', { date: tomorrow })).toBe(1);
      expect(valueOf(samples, 'nightshift_night_info', { date: night.date })).toBeUndefined();
      expect(valueOf(samples, 'nightshift_night_running')).toBe(1);
      expect(valueOf(samples, 'nightshift_night_started_timestamp_seconds')).toBe(seconds(state.started_at!));
      expect(valueOf(samples, 'nightshift_builds', { status: 'running' })).toBe(1);
      expect(valueOf(samples, 'nightshift_builds', { status: 'pending' })).toBe(state.builds.length - 1);
      expect(valueOf(samples, 'nightshift_builds', { status: 'failed' })).toBe(0);
      // Nothing has ended tonight: no duration series, none left over from the night before.
      expect(samples.filter((s) => s.name.startsWith('nightshift_build_duration_seconds'))).toEqual([]);
      expect(valueOf(samples, 'nightshift_last_night_finished_timestamp_seconds')).toBe(seconds(finished.finished_at!));
      expect(valueOf(samples, 'nightshift_upload_finished_timestamp_seconds')).toBe(seconds(finished.upload!.finished_at));
    } finally {
      await lock.release();
    }
    // Its runner gone (killed, say) without an end: not running, and still not finished.
    const { samples } = await scrape();
    expect(valueOf(samples, 'nightshift_night_running')).toBe(0);
    expect(valueOf(samples, 'nightshift_last_night_finished_timestamp_seconds')).toBe(seconds(finished.finished_at!));
  });

  it('passes over a newer night.json it cannot read, and counts it', async () => {
    const broken = nightLayout(night.root, addDays(night.date, 2));
    await mkdir(broken.dir, { recursive: true });
    await writeFile(broken.state, '{"version": 1, "date": ');
    try {
      const { samples } = await scrape();
      expect(valueOf(samples, 'nightshift_night_state_unreadable')).toBe(1);
      expect(valueOf(samples, 'nightshift_night_info', { date: tomorrow })).toBe(1);
    } finally {
      await rm(broken.dir, { recursive: true, force: true });
    }
  });

  it('says nothing it does not know under a root without nights', async () => {
    const empty = await mkdtemp(path.join(os.tmpdir(), 'nightshift-metrics-empty-'));
    try {
      const { samples } = await scrape({ schedule: { ...schedule, root: empty } });
      for (const status of BUILD_STATUSES) expect(valueOf(samples, 'nightshift_builds', { status })).toBe(0);
      expect(valueOf(samples, 'nightshift_last_night_finished_timestamp_seconds')).toBe(0);
      expect(valueOf(samples, 'nightshift_night_running')).toBe(0);
      expect(samples.map((s) => s.name).filter((name) => /night_info|started|upload|queue|duration/.test(name))).toEqual([]);
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });
});

describe('with the shared queue', () => {
  let redis: RedisServer;
  let queued: Schedule;
  let machine: NightQueue;
  const password = 's3cret-pass';
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    redis = await startRedis();
    queued = { ...schedule, queue: { url: `${redis.url}/0`, leaseMs: 30_000, startWaitMs: 0 } };
    // The credentials come from the environment, as on a real machine; this Redis takes any password.
    env = { NIGHTSHIFT_REDIS_URL: `redis://:${password}@127.0.0.1:${redis.port}/0` };
    // The current night is the one that runs now (previous describe): its queue, as another machine fills it.
    machine = await openNightQueue({ url: `${redis.url}/0`, schedule: 'nightly', date: addDays(night.date, 1), machine: 'm2', leaseMs: 30_000 });
    await machine.addNight([
      { id: 'ok_3.11_cpu', estimateS: 600, needs: {} },
      { id: 'ok_3.12_cpu', estimateS: 600, needs: {} },
      { id: 'slow_3.12_cpu', estimateS: 1200, needs: {} },
      { id: 'bad_3.12_cpu', estimateS: 60, needs: {} },
    ]);
    const first = await machine.take(() => true);
    await machine.finish(first!, { status: 'succeeded', machine: 'm2', finished_at: new Date().toISOString() });
    await machine.take(() => true);
  });

  afterAll(async () => {
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset when the before-hook failed
    await machine?.close();
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset when the before-hook failed
    await redis?.stop();
  });

  it("counts the fleet's waiting, running and ended builds of the current night, and never shows the Redis URL", async () => {
    const { body, samples } = await scrape({ schedule: queued, env });
    expect(valueOf(samples, 'nightshift_queue_up')).toBe(1);
    expect(valueOf(samples, 'nightshift_queue_builds', { state: 'waiting' })).toBe(2);
    expect(valueOf(samples, 'nightshift_queue_builds', { state: 'running' })).toBe(1);
    expect(valueOf(samples, 'nightshift_queue_builds', { state: 'ended' })).toBe(1);
    expect(body).not.toContain(password);
    expect(body).not.toMatch(/redis:|127\.0\.0\.1/);
  });

  it('says the queue is down when Redis is stopped, quickly, and keeps every other figure', async () => {
    await machine.close();
    await redis.stop();
    const started = Date.now();
    const { body, samples } = await scrape({ schedule: queued, env });
    expect(Date.now() - started).toBeLessThan(3000);
    expect(valueOf(samples, 'nightshift_queue_up')).toBe(0);
    expect(samples.filter((s) => s.name === 'nightshift_queue_builds')).toEqual([]);
    expect(valueOf(samples, 'nightshift_builds', { status: 'pending' })).toBeGreaterThan(0);
    expect(valueOf(samples, 'nightshift_last_night_finished_timestamp_seconds')).toBeGreaterThan(0);
    expect(valueOf(samples, 'nightshift_upload_bytes')).toBeGreaterThan(0);
    expect(body).not.toContain(password);
    expect(body).not.toMatch(/redis:|127\.0\.0\.1/);
  });

  it('says the queue is down when NIGHTSHIFT_REDIS_URL is not a Redis URL, without showing it', async () => {
    const { body, samples } = await scrape({ schedule: queued, env: { NIGHTSHIFT_REDIS_URL: `http://user:${password}@example.com` } });
    expect(valueOf(samples, 'nightshift_queue_up')).toBe(0);
    expect(body).not.toContain(password);
  });
});

describe('the example alert rules', () => {
  it('are a valid Prometheus rule file', async () => {
    const check = await execa('promtool', ['check', 'rules', RULES], { reject: false });
    expect(check.exitCode, `${check.stdout}${check.stderr}`).toBe(0);
    expect(check.stdout).toContain('SUCCESS: 5 rules found');
  });

  it('fire as their unit tests expect (no night finished for 26 hours, builds failed, uploads failing, queue unreachable)', async () => {
    const test = await execa('promtool', ['test', 'rules', RULE_TESTS], { reject: false });
    expect(test.exitCode, `${test.stdout}${test.stderr}`).toBe(0);
    expect(test.stdout).toContain('SUCCESS');
  });
});
