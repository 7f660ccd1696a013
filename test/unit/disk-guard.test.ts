/**
 * The min_free guard on real folders. Only the free-space reading is injected: the disk "gains" exactly
 * what the removed night folders took (measured with folderSize before), as a real disk would.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ensureFreeSpace } from '../../src/runner/disk-guard.js';
import { folderSize } from '../../src/files.js';
import { NightshiftError } from '../../src/errors.js';
import { markRoot, ROOT_MARKER } from '../../src/night/root-marker.js';

const KB = 1024;
const TODAY = '2026_11_22';
let root: string;
/** Size of each night folder as created, for the simulated disk. */
let sizes: Map<string, number>;

beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'nightshift-guard-'));
  // A root nightshift made: its first night marked it.
  await markRoot(root, 'run');
  sizes = new Map();
});
afterEach(() => rm(root, { recursive: true, force: true }));

/** A night folder with logs and an artifact of `kb` KiB. */
async function night(name: string, kb: number): Promise<void> {
  const dir = path.join(root, name);
  await mkdir(path.join(dir, 'logs', 'succeeded'), { recursive: true });
  await mkdir(path.join(dir, 'artifacts', 'ok_3.12_cpu'), { recursive: true });
  await writeFile(path.join(dir, 'logs', 'succeeded', 'ok_3.12_cpu.log'), 'built\n');
  await writeFile(path.join(dir, 'artifacts', 'ok_3.12_cpu', 'pkg.whl'), Buffer.alloc(kb * KB, 1));
  sizes.set(name, await folderSize(dir));
}

/** A package cache `<root>/cache/<key>` of `kb` KiB, last used `daysAgo` days ago. */
async function cache(key: string, kb: number, daysAgo: number): Promise<void> {
  const dir = path.join(root, 'cache', key);
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'objects'), Buffer.alloc(kb * KB, 2));
  const usedAt = new Date(Date.now() - daysAgo * 86_400_000);
  await utimes(dir, usedAt, usedAt);
  sizes.set(path.join('cache', key), await folderSize(dir));
}

/** Free bytes: `base` plus what every removed night folder (and cache) took. */
function disk(base: number, { gainRatio = 1 } = {}): (dir: string) => Promise<number> {
  return (dir) => {
    expect(dir).toBe(root);
    let free = base;
    for (const [name, size] of sizes) if (!existsSync(path.join(root, name))) free += Math.floor(size * gainRatio);
    return Promise.resolve(free);
  };
}

const present = async () => (await readdir(root)).filter((name) => name !== ROOT_MARKER).sort();
const size = (...names: string[]) => names.reduce((sum, name) => sum + sizes.get(name)!, 0);

describe('ensureFreeSpace', () => {
  beforeEach(async () => {
    await night('2026_11_17', 100);
    await night('2026_11_18', 200);
    await night('2026_11_19', 300);
    await night('2026_11_20', 400);
    await night('2026_11_21', 500);
    await night(TODAY, 50);
    await mkdir(path.join(root, 'nightlies'));
    await mkdir(path.join(root, '2026_13_01'));
    await writeFile(path.join(root, '2026_11_01'), 'a file, not a night');
  });

  it('does nothing when there is enough', async () => {
    const result = await ensureFreeSpace({ root, today: TODAY, timezone: 'UTC', minFreeBytes: 10 * KB, freeBytes: disk(10 * KB) });
    expect(result).toEqual({ trimmedCaches: [], freedNights: [], freeBytes: 10 * KB, errors: [] });
    expect(await present()).toHaveLength(9);
  });

  it('prunes the oldest nights, one at a time, until there is enough', async () => {
    const base = 1000;
    const minFreeBytes = base + size('2026_11_17') + 1; // one byte more than the oldest frees
    const result = await ensureFreeSpace({ root, today: TODAY, timezone: 'UTC', minFreeBytes, freeBytes: disk(base) });
    expect(result.freedNights).toEqual(['2026_11_17', '2026_11_18']);
    expect(result.freeBytes).toBe(base + size('2026_11_17', '2026_11_18'));
    expect(await present()).toEqual(['2026_11_01', '2026_11_19', '2026_11_20', '2026_11_21', TODAY, '2026_13_01', 'nightlies']);
  });

  it('may prune every earlier night but the newest; today and the newest stay', async () => {
    const base = 1000;
    const minFreeBytes = base + size('2026_11_17', '2026_11_18', '2026_11_19', '2026_11_20');
    const result = await ensureFreeSpace({ root, today: TODAY, timezone: 'UTC', minFreeBytes, freeBytes: disk(base) });
    expect(result.freedNights).toEqual(['2026_11_17', '2026_11_18', '2026_11_19', '2026_11_20']);
    expect(await present()).toEqual(['2026_11_01', '2026_11_21', TODAY, '2026_13_01', 'nightlies']);
  });

  it('refuses with exit 4 and removes nothing when pruning all that may go cannot be enough', async () => {
    const base = 1000;
    const minFreeBytes = base + size('2026_11_17', '2026_11_18', '2026_11_19', '2026_11_20') + 1;
    const error = await ensureFreeSpace({ root, today: TODAY, timezone: 'UTC', minFreeBytes, freeBytes: disk(base) }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NightshiftError);
    expect((error as NightshiftError).exitCode).toBe(4);
    const message = (error as NightshiftError).message;
    expect(message).toMatch(`not enough disk space to start night ${TODAY}: 1000B free under ${root}, min_free needs 1.`);
    expect(message).toMatch(/nothing was removed: removing every night that may go \(2026_11_17, 2026_11_18, 2026_11_19, 2026_11_20\) would free only about 1\.\dM/);
    expect(message).toMatch(/today and the newest earlier night, 2026_11_21, always stay/);
    expect(message).toMatch(/Free space on that disk, lower min_free in the schedule, or give the schedule a root \(or --root\) on a disk with room/);
    expect(await present()).toHaveLength(9);
  });

  it('refuses after pruning when the disk gains less than the folders seemed to take, naming what it removed', async () => {
    const base = 1000;
    // Enough by the folder sizes, but the disk only gets half back (e.g. a snapshot holds the rest).
    const minFreeBytes = base + size('2026_11_17', '2026_11_18', '2026_11_19');
    const error = (await ensureFreeSpace({ root, today: TODAY, timezone: 'UTC', minFreeBytes, freeBytes: disk(base, { gainRatio: 0.5 }) }).catch(
      (e: unknown) => e,
    )) as NightshiftError;
    expect(error.exitCode).toBe(4);
    expect(error.message).toMatch(/removed 2026_11_17, 2026_11_18, 2026_11_19, 2026_11_20, the oldest nights that may go, and it was not enough/);
    expect(await present()).toEqual(['2026_11_01', '2026_11_21', TODAY, '2026_13_01', 'nightlies']);
  });

  it('leaves a night held by a live process and takes the next one', async () => {
    await writeFile(
      path.join(root, '2026_11_17', 'night.lock'),
      JSON.stringify({ pid: process.pid, host: (await import('node:os')).hostname(), started_at: new Date().toISOString(), purpose: 'build' }),
    );
    const base = 1000;
    const result = await ensureFreeSpace({ root, today: TODAY, timezone: 'UTC', minFreeBytes: base + size('2026_11_18'), freeBytes: disk(base) });
    expect(result.freedNights).toEqual(['2026_11_18']);
    expect(await present()).toContain('2026_11_17');
  });

  it('uses a given prune function, one night at a time', async () => {
    const calls: string[][] = [];
    const prune = async (nights: string[]) => {
      calls.push(nights);
      for (const n of nights) await rm(path.join(root, n), { recursive: true });
    };
    const base = 1000;
    const result = await ensureFreeSpace({ root, today: TODAY, timezone: 'UTC', minFreeBytes: base + size('2026_11_17', '2026_11_18'), freeBytes: disk(base), prune });
    expect(calls).toEqual([['2026_11_17'], ['2026_11_18']]);
    expect(result.freedNights).toEqual(['2026_11_17', '2026_11_18']);
  });
});

describe('ensureFreeSpace keeps what is not its own to judge', () => {
  beforeEach(async () => {
    for (const [name, kb] of [
      ['2026_11_17', 100],
      ['2026_11_18', 200],
      ['2026_11_19', 300],
      ['2026_11_20', 400],
      ['2026_11_21', 500],
      [TODAY, 50],
    ] as const)
      await night(name, kb);
  });

  it("a typo'd future --date: nights are aged from the clock's today, so the newest finished night stays", async () => {
    const base = 1000;
    const minFreeBytes = base + size('2026_11_17', '2026_11_18', '2026_11_19', '2026_11_20', '2026_11_21');
    const now = () => new Date('2026-11-22T08:00:00Z');
    const error = (await ensureFreeSpace({ root, today: '2027_11_22', timezone: 'UTC', now, minFreeBytes, freeBytes: disk(base) }).catch((e: unknown) => e)) as NightshiftError;
    expect(error.exitCode).toBe(4);
    expect(error.message).toMatch(/removing every night that may go \(2026_11_17, 2026_11_18, 2026_11_19, 2026_11_20\) would free only/);
    expect(await present()).toEqual(['2026_11_17', '2026_11_18', '2026_11_19', '2026_11_20', '2026_11_21', TODAY]);
  });

  it('removes nothing in a root without the marker, naming the root and the fix', async () => {
    await rm(path.join(root, ROOT_MARKER));
    await cache('manywheel-cpu', 200, 3);
    const error = (await ensureFreeSpace({ root, today: TODAY, timezone: 'UTC', minFreeBytes: 1000 + size('2026_11_17'), freeBytes: disk(1000) }).catch(
      (e: unknown) => e,
    )) as NightshiftError;
    expect(error.exitCode).toBe(4);
    expect(error.message).toContain(`nothing removed under ${root}: it has no .nightshift-root, so nightshift did not make it`);
    expect(error.message).toMatch(/otherwise point the schedule's root \(or --root\) at nightshift's own folder/);
    expect(await present()).toEqual(['2026_11_17', '2026_11_18', '2026_11_19', '2026_11_20', '2026_11_21', TODAY, 'cache']);
    expect(await readdir(path.join(root, 'cache'))).toEqual(['manywheel-cpu']);
  });
});

describe('ensureFreeSpace on a fresh machine', () => {
  it('creates a missing root and measures the real disk by default', async () => {
    const fresh = path.join(root, 'not', 'yet');
    const result = await ensureFreeSpace({ root: fresh, today: TODAY, timezone: 'UTC', minFreeBytes: 1 });
    expect(existsSync(fresh)).toBe(true);
    expect(result.freedNights).toEqual([]);
    expect(result.freeBytes).toBeGreaterThan(0);
  });

  it('refuses on a real disk that cannot have that much free, with nothing to prune', async () => {
    const error = (await ensureFreeSpace({ root, today: TODAY, timezone: 'UTC', minFreeBytes: 1024 ** 5 }).catch((e: unknown) => e)) as NightshiftError;
    expect(error.exitCode).toBe(4);
    expect(error.message).toMatch(/free under .*, min_free needs 1024T; nothing was removed: there is no night that may go\. Free space/);
  });
});

describe('folderSize', () => {
  it('counts files and folders once, hard links once, and never follows symlinks', async () => {
    const dir = path.join(root, 'night');
    await mkdir(path.join(dir, 'sub'), { recursive: true });
    await writeFile(path.join(dir, 'sub', 'a'), Buffer.alloc(100 * KB));
    const alone = await folderSize(dir);
    expect(alone).toBeGreaterThanOrEqual(100 * KB);
    const { link, symlink } = await import('node:fs/promises');
    await link(path.join(dir, 'sub', 'a'), path.join(dir, 'hard'));
    const outside = path.join(root, 'big');
    await writeFile(outside, Buffer.alloc(1000 * KB));
    await symlink(outside, path.join(dir, 'soft'));
    await symlink(root, path.join(dir, 'loop'));
    const withLinks = await folderSize(dir);
    expect(withLinks - alone).toBeLessThan(20 * KB);
    expect(await folderSize(path.join(root, 'missing'))).toBe(0);
  });
});

describe('ensureFreeSpace with package caches', () => {
  beforeEach(async () => {
    await night('2026_11_19', 300);
    await night('2026_11_20', 400);
    await night('2026_11_21', 500);
    await night(TODAY, 50);
    await cache('manywheel-cu126', 300, 3);
    await cache('manywheel-cpu', 200, 1);
  });

  it('trims the least recently used caches first and keeps every night when that is enough', async () => {
    const base = 1000;
    const minFreeBytes = base + size('cache/manywheel-cu126') + 1; // a little more than the oldest cache frees
    const result = await ensureFreeSpace({ root, today: TODAY, timezone: 'UTC', minFreeBytes, freeBytes: disk(base) });
    expect(result.trimmedCaches).toEqual(['manywheel-cu126', 'manywheel-cpu']);
    expect(result.freedNights).toEqual([]);
    expect(await present()).toEqual(['2026_11_19', '2026_11_20', '2026_11_21', TODAY, 'cache']);
  });

  it('trims only as much as is needed', async () => {
    const base = 1000;
    const minFreeBytes = base + size('cache/manywheel-cu126');
    const result = await ensureFreeSpace({ root, today: TODAY, timezone: 'UTC', minFreeBytes, freeBytes: disk(base) });
    expect(result.trimmedCaches).toEqual(['manywheel-cu126']);
    expect(await readdir(path.join(root, 'cache'))).toEqual(['manywheel-cpu']);
  });

  it('prunes the oldest nights when the caches are not enough', async () => {
    const base = 1000;
    const minFreeBytes = base + size('cache/manywheel-cu126', 'cache/manywheel-cpu', '2026_11_19') + 1;
    const result = await ensureFreeSpace({ root, today: TODAY, timezone: 'UTC', minFreeBytes, freeBytes: disk(base) });
    expect(result.trimmedCaches).toEqual(['manywheel-cu126', 'manywheel-cpu']);
    expect(result.freedNights).toEqual(['2026_11_19', '2026_11_20']);
    expect(await present()).toEqual(['2026_11_21', TODAY, 'cache']);
  });

  it('keeps a cache used since a running night started, and says which caches it removed when it refuses', async () => {
    // A live night started a minute ago; the cpu cache was stamped since (a build has it mounted).
    await writeFile(
      path.join(root, '2026_11_21', 'night.lock'),
      JSON.stringify({ pid: process.pid, host: (await import('node:os')).hostname(), started_at: new Date(Date.now() - 60_000).toISOString(), purpose: 'run' }),
    );
    const now = new Date();
    await utimes(path.join(root, 'cache', 'manywheel-cpu'), now, now);
    const base = 1000;
    const minFreeBytes = base + size('cache/manywheel-cu126', 'cache/manywheel-cpu', '2026_11_19', '2026_11_20');
    const error = (await ensureFreeSpace({ root, today: TODAY, timezone: 'UTC', minFreeBytes, freeBytes: disk(base) }).catch((e: unknown) => e)) as NightshiftError;
    expect(error).toBeInstanceOf(NightshiftError);
    expect(error.message).toMatch(
      /removed cache\(s\) manywheel-cu126, then no night was removed: removing every night that may go \(2026_11_19, 2026_11_20\) would free only about/,
    );
    expect(await readdir(path.join(root, 'cache'))).toEqual(['manywheel-cpu']);
    expect(await present()).toEqual(['2026_11_19', '2026_11_20', '2026_11_21', TODAY, 'cache']);
  });
});
