import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { hostname, tmpdir } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HISTORY_KEEP, historyPath, readDurations, recordDurations, type BuildHistory } from '../../src/night/history.js';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'nightshift-history-'));
});
afterEach(() => rm(root, { recursive: true, force: true }));

const night = (day: number) => `2026_11_${String(day).padStart(2, '0')}`;
const readHistory = async () => JSON.parse(await readFile(historyPath(root), 'utf8')) as BuildHistory;

describe('build history', () => {
  it('starts empty without a file, and records entries per build id', async () => {
    expect(await readDurations(root)).toEqual({});
    await recordDurations(root, [
      { id: 'manywheel_3.12_cu126', date: night(1), duration_s: 4000, status: 'succeeded' },
      { id: 'libtorch_cu126_cxx11-abi', date: night(1), duration_s: 900, status: 'failed' },
    ]);
    expect(await readHistory()).toEqual({
      version: 1,
      builds: {
        'manywheel_3.12_cu126': [{ date: night(1), duration_s: 4000, status: 'succeeded' }],
        'libtorch_cu126_cxx11-abi': [{ date: night(1), duration_s: 900, status: 'failed' }],
      },
    });
    expect(await readDurations(root)).toEqual((await readHistory()).builds);
  });

  it("keeps each build's runs in night order, a late rerun of an older night in its place", async () => {
    const id = 'manywheel_3.12_cu126';
    await recordDurations(root, [{ id, date: night(1), duration_s: 4000, status: 'succeeded' }]);
    await recordDurations(root, [{ id, date: night(3), duration_s: 4400, status: 'succeeded' }]);
    await recordDurations(root, [{ id, date: night(4), duration_s: 10800, status: 'timed_out' }]);
    // A late rerun of an older night does not count as the most recent.
    await recordDurations(root, [{ id, date: night(2), duration_s: 3000, status: 'succeeded' }]);
    expect((await readDurations(root))[id]!.map((e) => [e.date, e.status])).toEqual([
      [night(1), 'succeeded'],
      [night(2), 'succeeded'],
      [night(3), 'succeeded'],
      [night(4), 'timed_out'],
    ]);
  });

  it(`keeps only the last ${HISTORY_KEEP} entries of each build`, async () => {
    const id = 'conda_3.11_cpu';
    for (let day = 1; day <= 25; day++) await recordDurations(root, [{ id, date: night(day), duration_s: day * 100, status: 'succeeded' }]);
    const entries = (await readHistory()).builds[id]!;
    expect(entries).toHaveLength(HISTORY_KEEP);
    expect(entries[0]!.date).toBe(night(6));
    expect((await readDurations(root))[id]!.at(-1)!.duration_s).toBe(2500);
  });

  it('loses nothing when many records are made at once', async () => {
    await Promise.all(Array.from({ length: 30 }, (_, i) => recordDurations(root, [{ id: `build_${i}`, date: night(1), duration_s: i + 1, status: 'succeeded' }])));
    expect(Object.keys(await readDurations(root))).toHaveLength(30);
  });

  it("waits for another process's write (its history.json.lock) and keeps what it wrote", async () => {
    // Another nightshift process on the root holds the lock: a live process of its own, in the lock's format.
    const other = spawn('sleep', ['30'], { stdio: 'ignore' });
    const lockFile = `${historyPath(root)}.lock`;
    try {
      await writeFile(lockFile, JSON.stringify({ pid: other.pid, host: hostname(), started_at: new Date().toISOString(), purpose: 'history' }));
      let done = false;
      const recording = recordDurations(root, [{ id: 'mine', date: night(2), duration_s: 60, status: 'succeeded' }]).then((problem) => ((done = true), problem));
      await sleep(300);
      expect(done).toBe(false);
      // The other writer's update lands meanwhile, then it lets go.
      await writeFile(historyPath(root), JSON.stringify({ version: 1, builds: { theirs: [{ date: night(2), duration_s: 30, status: 'succeeded' }] } }));
      await rm(lockFile);
      expect(await recording).toBeUndefined();
      expect(Object.keys(await readDurations(root)).sort()).toEqual(['mine', 'theirs']);
      expect(await readdir(root)).toEqual(['history.json']);
    } finally {
      other.kill();
    }
  });

  it('takes over the lock of a writer that died', async () => {
    const dead = spawn('true');
    await new Promise((resolve) => dead.once('exit', resolve));
    await writeFile(`${historyPath(root)}.lock`, JSON.stringify({ pid: dead.pid, host: hostname(), started_at: new Date().toISOString(), purpose: 'history' }));
    expect(await recordDurations(root, [{ id: 'x', date: night(1), duration_s: 5, status: 'succeeded' }])).toBeUndefined();
    expect(Object.keys(await readDurations(root))).toEqual(['x']);
  });

  it('starts fresh from a corrupt file but keeps it aside', async () => {
    await writeFile(historyPath(root), '{"version":1,"builds":{"x":[');
    expect(await readDurations(root)).toEqual({});
    await recordDurations(root, [{ id: 'x', date: night(2), duration_s: 60, status: 'succeeded' }]);
    expect((await readHistory()).builds).toEqual({ x: [{ date: night(2), duration_s: 60, status: 'succeeded' }] });
    expect(await readFile(`${historyPath(root)}.corrupt`, 'utf8')).toBe('{"version":1,"builds":{"x":[');
    expect((await readdir(root)).sort()).toEqual(['history.json', 'history.json.corrupt']);
  });

  it('keeps the good entries of a file with a few bad ones', async () => {
    await writeFile(
      historyPath(root),
      JSON.stringify({
        version: 1,
        builds: {
          x: [
            { date: night(1), duration_s: 'long', status: 'succeeded' },
            { date: night(2), duration_s: 70, status: 'succeeded' },
          ],
        },
      }),
    );
    expect((await readDurations(root)).x).toEqual([{ date: night(2), duration_s: 70, status: 'succeeded' }]);
    await recordDurations(root, [{ id: 'y', date: night(3), duration_s: 5, status: 'failed' }]);
    expect(Object.keys((await readHistory()).builds).sort()).toEqual(['x', 'y']);
  });
});
