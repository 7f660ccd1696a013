import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setImmediate as tick } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NightshiftError } from '../../src/errors.js';
import { NightStateStore, readNightState, writeNightState, type BuildRecord, type NightState } from '../../src/night/state.js';

let dir: string;
let file: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'nightshift-state-'));
  file = path.join(dir, 'night.json');
});
afterEach(() => rm(dir, { recursive: true, force: true }));

function build(i: number): BuildRecord {
  return {
    id: `manywheel_3.${i}_cu126`,
    package: 'manywheel',
    axes: { python: `3.${i}`, cuda: 'cu126' },
    executor: 'docker',
    image: 'example/builder:cuda12.6',
    status: 'pending',
    order: i + 1,
    estimate_s: 4200,
    attempt: 0,
  };
}

function night(count: number): NightState {
  return {
    version: 1,
    date: '2026_11_22',
    machine: 'linux-0',
    schedule: 'nightly',
    updated_at: '2026-11-22T08:05:00.000Z',
    builds: Array.from({ length: count }, (_, i) => build(i)),
  };
}

describe('readNightState / writeNightState', () => {
  it('reads back what was written, and undefined when there is no file', async () => {
    expect(await readNightState(file)).toBeUndefined();
    await writeNightState(file, night(3));
    expect(await readNightState(file)).toEqual(night(3));
    expect(await readdir(dir)).toEqual(['night.json']);
  });

  it('never shows a partial night.json while a write is under way', async () => {
    const old = night(2);
    const big = night(40_000); // ~10 MB: the write takes long enough to be watched
    await writeNightState(file, old);
    const writing = writeNightState(file, big);
    let sawTempWhileOld = false;
    let sawNew = false;
    // Synchronous reads in bursts: the write proceeds on libuv's thread pool meanwhile.
    while (!sawNew) {
      for (let i = 0; i < 20 && !sawNew; i++) {
        const temp = readdirSync(dir).some((name) => name.endsWith('.tmp'));
        const seen = JSON.parse(readFileSync(file, 'utf8')) as NightState; // throws on a partial file
        sawNew = seen.builds.length === big.builds.length;
        if (!sawNew) expect(seen).toEqual(old);
        if (temp && !sawNew) sawTempWhileOld = true;
      }
      await tick();
    }
    await writing;
    expect(sawTempWhileOld).toBe(true);
    expect((await readNightState(file))!.builds).toHaveLength(big.builds.length);
    expect(await readdir(dir)).toEqual(['night.json']);
  });

  it('keeps the old night.json when a writer died before its rename', async () => {
    await writeNightState(file, night(2));
    // What a writer killed mid-write leaves behind: a partial temp file next to night.json.
    const full = JSON.stringify(night(5));
    await writeFile(path.join(dir, `.night.json.99999.deadbeef.tmp`), full.slice(0, full.length / 2));
    expect(await readNightState(file)).toEqual(night(2));
    await writeNightState(file, night(5));
    expect(await readNightState(file)).toEqual(night(5));
  });

  it('names a corrupt file and says it can be removed to start over', async () => {
    await writeFile(file, '{"version":1,"builds":[{"id":');
    const error = await readNightState(file).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NightshiftError);
    expect((error as NightshiftError).exitCode).toBe(2);
    expect((error as Error).message).toContain(file);
    expect((error as Error).message).toMatch(/remove it to start the night over/);
  });

  it('rejects JSON that is not a night state, naming its version or the field that is wrong', async () => {
    await writeFile(file, '{"version":7}');
    await expect(readNightState(file)).rejects.toThrow(/unreadable \(version 7, but this nightshift reads version 1\)/);
    await writeFile(file, JSON.stringify({ ...night(1), builds: 'nope' }));
    await expect(readNightState(file)).rejects.toThrow(/unreadable \(builds: Invalid input: expected array, received string\)/);
    await writeFile(file, JSON.stringify({ ...night(2), builds: [build(0), { ...build(1), status: 'exploded' }] }));
    await expect(readNightState(file)).rejects.toThrow(/unreadable \(builds\.1\.status: Invalid option/);
  });

  it("keeps fields it does not know (a later version's), so that they still read and survive a write", async () => {
    const later = { ...night(1), retries: { policy: 'twice' }, builds: [{ ...build(0), retry_of: 'x', tries: [1, 2] }] };
    await writeFile(file, JSON.stringify(later));
    expect(await readNightState(file)).toEqual(later);
  });
});

describe('NightStateStore', () => {
  it('lands all of 50 concurrent updates, in memory and on disk', async () => {
    const store = new NightStateStore(file, { now: () => new Date('2026-11-22T09:00:00Z') });
    await store.replace(night(50));
    await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        store.update(async (state) => {
          const record = state.builds[i]!;
          await tick(); // yield inside the update: another update must still not interleave
          record.status = 'succeeded';
          record.attempt += 1;
        }),
      ),
    );
    const expectAll = (state: NightState) => {
      expect(state.builds.map((b) => b.status)).toEqual(Array(50).fill('succeeded'));
      expect(state.builds.every((b) => b.attempt === 1)).toBe(true);
    };
    expectAll(store.get());
    expectAll((await readNightState(file))!);
    expect(store.get().updated_at).toBe('2026-11-22T09:00:00.000Z');
  });

  it('keeps going after an update that throws, which changes nothing', async () => {
    const store = new NightStateStore(file);
    await store.replace(night(2));
    const failing = store.update((state) => {
      state.builds[0]!.status = 'failed';
      throw new Error('boom');
    });
    const next = store.update((state) => {
      state.builds[1]!.status = 'running';
    });
    await expect(failing).rejects.toThrow('boom');
    await next;
    expect(store.get().builds.map((b) => b.status)).toEqual(['pending', 'running']);
    expect((await readNightState(file))!.builds.map((b) => b.status)).toEqual(['pending', 'running']);
  });

  it('loads an existing night and accepts a returned new state', async () => {
    await writeNightState(file, night(1));
    const store = new NightStateStore(file);
    expect((await store.load())!.builds).toHaveLength(1);
    const before = store.get();
    await store.update((state) => ({ ...state, finished_at: '2026-11-22T10:00:00.000Z' }));
    expect(store.get().finished_at).toBe('2026-11-22T10:00:00.000Z');
    expect(before.finished_at).toBeUndefined(); // earlier snapshots are not changed under their readers
  });

  it('refuses updates before there is a state', async () => {
    const store = new NightStateStore(file);
    expect(await store.load()).toBeUndefined();
    await expect(store.update(() => undefined)).rejects.toThrow(/load\(\) or replace\(\)/);
  });
});
