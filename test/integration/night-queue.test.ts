/** The night's shared queue against a real redis-server: two queue objects stand for two machines. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NightshiftError } from '../../src/errors.js';
import { freePort, startRedis, type RedisServer } from '../helpers/redis.js';
import { MAX_TAKEOVERS, openNightQueue, safeJobId, type NightCell, type NightJob, type NightQueue } from '../../src/queue/night-queue.js';

let redis: RedisServer | undefined;
let url = '';

beforeAll(async () => {
  redis = await startRedis();
  url = `${redis.url}/0`;
});

let nights = 0;
const opened: NightQueue[] = [];

/** Two machines' queues on a night of their own. */
async function twoMachines(leaseMs = 30_000): Promise<[NightQueue, NightQueue]> {
  const date = `2026-11-${String(++nights).padStart(2, '0')}`;
  const a = await openNightQueue({ url, schedule: 'nightly', date, machine: 'm1', leaseMs });
  const b = await openNightQueue({ url, schedule: 'nightly', date, machine: 'm2', leaseMs });
  opened.push(a, b);
  return [a, b];
}

// The queues first, then the server, stopped by its pid.
afterAll(async () => {
  for (const queue of opened) await queue.close();
  await redis?.stop();
});

function cell(id: string, estimateS: number, gpus?: number): NightCell {
  return { id, estimateS, needs: gpus === undefined ? {} : { gpus } };
}

const CELLS = [cell('conda_3.12_cpu', 600), cell('libtorch_cu126_cxx11-abi', 3000, 1), cell('manywheel_3.12_cu126', 4200), cell('manywheel_3.13_cpu', 1200)];
const LONGEST_FIRST = ['manywheel_3.12_cu126', 'libtorch_cu126_cxx11-abi', 'manywheel_3.13_cpu', 'conda_3.12_cpu'];
const any = (): boolean => true;

async function takeAll(queue: NightQueue, fits: (id: string) => boolean = any): Promise<NightJob[]> {
  const jobs: NightJob[] = [];
  for (let job = await queue.take(fits); job !== undefined; job = await queue.take(fits)) jobs.push(job);
  return jobs;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('the night queue', () => {
  it('adds the night once, whichever machine adds it, and hands it out longest first', async () => {
    const [a, b] = await twoMachines();
    await a.addNight(CELLS);
    // The second machine's add is a no-op, even with other estimates: the first add wins.
    await b.addNight(CELLS.map((c) => ({ ...c, estimateS: c.id.startsWith('conda') ? 9000 : c.estimateS })));
    expect(await a.progress()).toEqual({ waiting: 4, active: 0, completed: 0, failed: 0, allEnded: false });
    expect((await b.pending()).sort()).toEqual([...LONGEST_FIRST].sort());
    const jobs = await takeAll(b);
    expect(jobs.map((job) => job.data.id)).toEqual(LONGEST_FIRST);
    expect(jobs.map((job) => job.id)).toEqual(LONGEST_FIRST.map(safeJobId));
  });

  it('never gives the same job to two takers', async () => {
    const [a, b] = await twoMachines();
    const many = Array.from({ length: 40 }, (_, i) => cell(`pkg_${i}`, 100 + i));
    await a.addNight(many);
    const [fromA, fromB] = await Promise.all([takeAll(a), takeAll(b)]);
    const ids = [...fromA, ...fromB].map((job) => job.data.id);
    expect(new Set(ids).size).toBe(40);
    expect(ids).toHaveLength(40);
  });

  it('leaves a job it cannot run to the machine that can, and says when every cell has ended', async () => {
    const [a, b] = await twoMachines();
    await a.addNight(CELLS);
    // Machine a has no GPU: it passes over the libtorch build and does not keep it.
    const noGpu = (id: string): boolean => CELLS.find((c) => c.id === id)?.needs.gpus === undefined;
    const first = await a.take(noGpu);
    const second = await a.take(noGpu);
    expect([first?.data.id, second?.data.id]).toEqual(['manywheel_3.12_cu126', 'manywheel_3.13_cpu']);
    const gpuJob = await b.take(any);
    expect(gpuJob?.data.id).toBe('libtorch_cu126_cxx11-abi');
    const conda = (await a.take(noGpu))!;
    expect(conda.data.id).toBe('conda_3.12_cpu');
    expect(await b.take(any)).toBeUndefined();

    const at = new Date().toISOString();
    await a.finish(first!, { status: 'succeeded', machine: 'a', finished_at: at });
    await a.fail(second!, { status: 'failed', machine: 'a', finished_at: at });
    await b.finish(gpuJob!, { status: 'succeeded', machine: 'b', finished_at: at });
    expect(await b.progress()).toEqual({ waiting: 0, active: 1, completed: 2, failed: 1, allEnded: false });
    expect(await b.pending()).toEqual(['conda_3.12_cpu']);
    await a.finish(conda, { status: 'succeeded', machine: 'a', finished_at: at });
    expect(await b.progress()).toEqual({ waiting: 0, active: 0, completed: 3, failed: 1, allEnded: true });
  });

  it('gives a job whose machine stops renewing to another machine after the lease', async () => {
    const [a, b] = await twoMachines(2000);
    await a.addNight([cell('long_1', 900), cell('short_1', 60)]);
    const kept = (await a.take(any))!;
    const abandoned = (await a.take(any))!;
    expect([kept.data.id, abandoned.data.id]).toEqual(['long_1', 'short_1']);
    expect(await b.take(any)).toBeUndefined();

    // a renews one build and forgets the other; b looks for work meanwhile.
    let takenOver: NightJob | undefined;
    const started = Date.now();
    while (takenOver === undefined && Date.now() - started < 8000) {
      expect(await a.renew(kept)).toBe(true);
      await sleep(400);
      takenOver = await b.take(any);
    }
    const waited = Date.now() - started;
    expect(takenOver?.data.id).toBe('short_1');
    expect(waited).toBeGreaterThanOrEqual(1900);
    expect(await a.renew(abandoned)).toBe(false);
    expect(await a.renew(kept)).toBe(true);

    const at = new Date().toISOString();
    await b.finish(takenOver!, { status: 'succeeded', machine: 'b', finished_at: at });
    expect((await a.progress()).allEnded).toBe(false);
    await a.finish(kept, { status: 'succeeded', machine: 'a', finished_at: at });
    expect(await a.progress()).toEqual({ waiting: 0, active: 0, completed: 2, failed: 0, allEnded: true });
  });

  it('a machine with nothing to take puts the head back and stops after one look, touching nothing else', async () => {
    const [a, b] = await twoMachines();
    await a.addNight(CELLS);
    const looked: string[] = [];
    expect(await a.take((id) => (looked.push(id), false))).toBeUndefined();
    expect([...new Set(looked)].sort()).toEqual([...LONGEST_FIRST].sort());
    // Only the head was fetched (and put back with its priority); the next was never started.
    const head = await b.take(any);
    const next = await b.take(any);
    expect([head?.data.id, next?.data.id]).toEqual(LONGEST_FIRST.slice(0, 2));
    expect([head?.attemptsStarted, next?.attemptsStarted]).toEqual([2, 1]);
  });

  it('fails a build that every machine running it stopped renewing, once it was taken over too often', async () => {
    const [a, b] = await twoMachines(1000);
    await a.addNight([cell('deadly_1', 600)]);
    let taken = 0;
    const started = Date.now();
    // Each taker "dies": it never renews, and the job comes back after the lease, MAX_TAKEOVERS times.
    while (Date.now() - started < 20_000) {
      const job = await (taken % 2 ? a : b).take(any);
      if (job) taken++;
      if ((await a.progress()).failed === 1) break;
      await sleep(200);
    }
    expect(taken).toBe(MAX_TAKEOVERS + 1);
    expect(await a.progress()).toMatchObject({ waiting: 0, active: 0, failed: 1, allEnded: true });
    expect(await a.take(any)).toBeUndefined();
  });

  it('never shows the password of the URL in an error', async () => {
    const port = await freePort();
    const messages: string[] = [];
    for (const bad of [`redis://:s3cret-pw@127.0.0.1:${port}/0`, `redis://user:s3cret-pw@127.0.0.1:${port}/0`, 'not a url :s3cret-pw@x', 'http://:s3cret-pw@x/']) {
      const error: unknown = await openNightQueue({ url: bad, schedule: 'nightly', date: '2026-12-01', machine: 'm1', leaseMs: 1000 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(NightshiftError);
      messages.push((error as Error).message);
    }
    for (const message of messages) expect(message).not.toContain('s3cret-pw');
    expect(messages[0]).toContain(`cannot reach the queue's Redis at redis://:***@127.0.0.1:${port}/0: `);
    expect(messages[1]).toContain(`redis://user:***@127.0.0.1:${port}/0`);
    expect(messages[2]).toContain('is not a URL');
    expect(messages[3]).toContain('must start with redis://');
  });

  it('makes job ids BullMQ accepts, distinct for distinct ids', () => {
    expect(safeJobId('a:b')).not.toContain(':');
    expect(safeJobId('a:b')).not.toBe(safeJobId('a%3Ab'));
  });
});
