/**
 * night.json's journal and the store's updates on drafts: what goes to the journal and when night.json is
 * rewritten whole, what readers make of a journal cut short or left from before a rewrite, and that an
 * update copies and records only what it touched.
 */
import { existsSync } from 'node:fs';
import { appendFile, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { journalOf } from '../../src/night/layout.js';
import { NightStateStore, readNightState, writeNightState, type BuildRecord, type NightState } from '../../src/night/state.js';
import { journalUpdates } from '../../src/night/state-journal.js';

let dir: string;
let file: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'nightshift-journal-'));
  file = path.join(dir, 'night.json');
});
afterEach(() => rm(dir, { recursive: true, force: true }));

function build(i: number): BuildRecord {
  return { id: `noop_${i}`, package: 'noop', axes: { n: String(i) }, executor: 'host', image: null, status: 'pending', order: i + 1, estimate_s: 60, attempt: 0 };
}

/** A night a runner drives (runner_pid set): its updates go to the journal. */
function running(count: number): NightState {
  return {
    version: 1,
    date: '2031_01_02',
    machine: 'm1',
    schedule: 'nightly',
    updated_at: '2031-01-02T01:00:00.000Z',
    runner_pid: 4242,
    builds: Array.from({ length: count }, (_, i) => build(i)),
  };
}

const onDisk = async () => JSON.parse(await readFile(file, 'utf8')) as NightState;
const end = (id: string) => (s: NightState) => {
  Object.assign(
    s.builds.find((b) => b.id === id)!,
    { status: 'succeeded', exit_code: 0, attempt: 1 },
  );
};

describe('NightStateStore with a journal', () => {
  it('appends a running night’s updates to the journal; readers see them; night.json stays as written', async () => {
    const store = new NightStateStore(file);
    await store.replace(running(50));
    const written = await readFile(file, 'utf8');
    await store.update(end('noop_3'));
    await store.update(end('noop_7'));
    expect(await readFile(file, 'utf8')).toBe(written);
    const lines = (await readFile(journalOf(file), 'utf8')).trimEnd().split('\n');
    // The first line names night.json; then one line per update holding only the changed record.
    expect(lines).toHaveLength(3);
    expect((JSON.parse(lines[1]!) as { builds: BuildRecord[] }).builds.map((b) => b.id)).toEqual(['noop_3']);
    const read = (await readNightState(file))!;
    expect(read).toEqual(store.get());
    expect(read.builds.filter((b) => b.status === 'succeeded').map((b) => b.id)).toEqual(['noop_3', 'noop_7']);
  });

  it('writes night.json whole, and removes the journal, once no run drives the night', async () => {
    const store = new NightStateStore(file);
    await store.replace(running(20));
    await store.update(end('noop_1'));
    expect(existsSync(journalOf(file))).toBe(true);
    await store.update((s) => {
      s.finished_at = '2031-01-02T02:00:00.000Z';
      s.runner_pid = undefined;
    });
    expect(existsSync(journalOf(file))).toBe(false);
    expect(await onDisk()).toEqual(store.get());
    expect((await onDisk()).builds[1]!.status).toBe('succeeded');
  });

  it('never lets the journal grow larger than night.json: it is folded in first', async () => {
    const store = new NightStateStore(file);
    await store.replace(running(400)); // ~90 KB, more than the 64 KiB floor
    const size = (await stat(file)).size;
    let largest = 0;
    for (let i = 0; i < 400; i++) {
      await store.update(end(`noop_${i}`));
      largest = Math.max(largest, (await stat(journalOf(file)).catch(() => undefined))?.size ?? 0);
    }
    // Each line is a few hundred bytes: 400 of them would be larger than night.json.
    expect(largest).toBeGreaterThan(0);
    expect(largest).toBeLessThan(size);
    expect(await readNightState(file)).toEqual(store.get());
  });

  it('folds the journal into night.json within a second of the last update', async () => {
    const store = new NightStateStore(file);
    await store.replace(running(5));
    await store.update(end('noop_2'));
    expect((await onDisk()).builds[2]!.status).toBe('pending');
    for (let i = 0; i < 100 && existsSync(journalOf(file)); i++) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(existsSync(journalOf(file))).toBe(false);
    expect((await onDisk()).builds[2]!.status).toBe('succeeded');
  });

  it('a line cut short ends the journal; the next writer folds it in before it appends', async () => {
    const first = new NightStateStore(file);
    await first.replace(running(5));
    await first.update(end('noop_0'));
    // What a power loss mid-append can leave: the start of a line, no newline.
    await appendFile(journalOf(file), '{"fields":{"version":1,"da');
    const read = (await readNightState(file))!;
    expect(read.builds[0]!.status).toBe('succeeded');
    expect(read.builds[1]!.status).toBe('pending');

    const next = new NightStateStore(file);
    expect(await next.load()).toEqual(read);
    expect(existsSync(journalOf(file))).toBe(false);
    await next.update(end('noop_1'));
    expect((await readNightState(file))!.builds.slice(0, 2).map((b) => b.status)).toEqual(['succeeded', 'succeeded']);
  });

  it('ignores a journal left from before night.json was last rewritten', async () => {
    const store = new NightStateStore(file);
    await store.replace(running(3));
    await store.update(end('noop_0'));
    const stale = await readFile(journalOf(file), 'utf8');
    // night.json rewritten (a new file), and the writer killed before it removed the journal.
    await writeNightState(file, running(3));
    await writeFile(journalOf(file), stale);
    expect((await readNightState(file))!.builds[0]!.status).toBe('pending');
    expect(journalUpdates(stale, 1)).toEqual([]);
  });

  it('a journal without night.json is no night', async () => {
    await writeFile(journalOf(file), '{"journal":1,"base":1}\n{"fields":{"version":1},"builds":[]}\n');
    expect(await readNightState(file)).toBeUndefined();
    const store = new NightStateStore(file);
    expect(await store.load()).toBeUndefined();
    expect(existsSync(journalOf(file))).toBe(false);
  });

  it('a reader never sees a half or mixed state while updates and rewrites go on', async () => {
    // updated_at counts the updates: a state that mixed an older night.json with a newer journal would not match its count.
    let clock = 0;
    const store = new NightStateStore(file, { now: () => new Date(Date.UTC(2031, 0, 2) + clock++ * 1000) });
    await store.replace(running(300));
    const start = Date.parse(store.get().updated_at);
    const writer = (async () => {
      for (let i = 0; i < 300; i++) await store.update(end(`noop_${i}`));
    })();
    const state = { done: false };
    void writer.finally(() => (state.done = true));
    let reads = 0;
    while (!state.done) {
      const seen = (await readNightState(file))!;
      const ended = seen.builds.filter((b) => b.status === 'succeeded').length;
      expect((Date.parse(seen.updated_at) - start) / 1000).toBe(ended);
      expect(seen.builds.slice(0, ended).every((b) => b.status === 'succeeded')).toBe(true);
      reads++;
    }
    await writer;
    expect(reads).toBeGreaterThan(1);
  });
});

describe('updates on a draft', () => {
  it('a mutator that throws after editing records, nested fields included, changes nothing', async () => {
    const store = new NightStateStore(file);
    await store.replace({ ...running(3), builds: running(3).builds.map((b) => ({ ...b, artifacts: [{ file: 'a.whl', size: 1, sha256: 'x' }] })) });
    const before = structuredClone(store.get());
    await expect(
      store.update((s) => {
        s.builds[0]!.status = 'failed';
        s.builds[1]!.artifacts!.push({ file: 'b.whl', size: 2, sha256: 'y' });
        s.builds[2]!.axes.n = 'changed';
        s.machine = 'other';
        throw new Error('no');
      }),
    ).rejects.toThrow('no');
    expect(store.get()).toEqual(before);
    expect(await readNightState(file)).toEqual(before);
  });

  it('records nested edits, new fields and removed fields of the records it touched, and only those', async () => {
    const store = new NightStateStore(file);
    await store.replace({ ...running(4), builds: running(4).builds.map((b) => ({ ...b, reason: 'from an earlier run' })) });
    await store.update((s) => {
      const record = s.builds.find((b) => b.id === 'noop_2')!;
      record.attempts = [{ attempt: 1, started_at: 'a', finished_at: 'b', exit_code: 1, status: 'failed' }];
      record.axes.extra = 'x';
      delete record.reason;
      expect(s.builds.find((b) => b.id === 'noop_1')!.axes).toEqual({ n: '1' }); // read only: copied, but recorded only if it differs
    });
    const line = (await readFile(journalOf(file), 'utf8')).trimEnd().split('\n').at(-1)!;
    expect((JSON.parse(line) as { builds: BuildRecord[] }).builds.map((b) => b.id)).toEqual(['noop_2']);
    const read = (await readNightState(file))!;
    expect(read).toEqual(store.get());
    expect(read.builds[2]).toMatchObject({ attempts: [{ attempt: 1 }], axes: { n: '2', extra: 'x' } });
    expect(read.builds[2]).not.toHaveProperty('reason');
    expect(read.builds[1]).toHaveProperty('reason');
  });

  it('a record added after the others (a build taken from the shared queue) is journaled like a change', async () => {
    const store = new NightStateStore(file);
    await store.replace(running(3));
    await store.update((s) => {
      s.builds.push(build(3));
      s.builds[1]!.status = 'succeeded';
    });
    const line = (await readFile(journalOf(file), 'utf8')).trimEnd().split('\n').at(-1)!;
    expect((JSON.parse(line) as { builds: BuildRecord[] }).builds.map((b) => b.id)).toEqual(['noop_1', 'noop_3']);
    expect((await onDisk()).builds.map((b) => b.id)).toEqual(['noop_0', 'noop_1', 'noop_2']);
    expect(await readNightState(file)).toEqual(store.get());
    expect(store.get().builds.map((b) => b.id)).toEqual(['noop_0', 'noop_1', 'noop_2', 'noop_3']);
  });

  it('a new list of builds (removed, reordered, or a returned state) writes night.json whole', async () => {
    const store = new NightStateStore(file);
    await store.replace(running(3));
    await store.update((s) => {
      s.builds.push(build(3));
    });
    await store.update((s) => {
      s.builds.splice(0, 1);
      s.builds[0]!.status = 'skipped';
    });
    expect((await onDisk()).builds.map((b) => `${b.id}:${b.status}`)).toEqual(['noop_1:skipped', 'noop_2:pending', 'noop_3:pending']);
    await store.update((s) => ({ ...s, builds: [...s.builds].reverse() }));
    expect((await onDisk()).builds.map((b) => b.id)).toEqual(['noop_3', 'noop_2', 'noop_1']);
    expect(await readNightState(file)).toEqual(store.get());
    // The states kept before are untouched by the later updates.
    expect(store.get().builds.map((b) => b.status)).toEqual(['pending', 'pending', 'skipped']);
  });
});
