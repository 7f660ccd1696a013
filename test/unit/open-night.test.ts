import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { nightLayout, type NightLayout } from '../../src/night/layout.js';
import { appendMasterLog, openNight } from '../../src/night/open-night.js';

let root: string;
let layout: NightLayout;
beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'nightshift-open-'));
  layout = nightLayout(root, '2026_11_22');
});
afterEach(() => rm(root, { recursive: true, force: true }));

describe('openNight', () => {
  it('creates the folders a run writes into, but not recipes/, and can run again', async () => {
    await openNight(layout);
    await openNight(layout);
    expect((await readdir(layout.dir)).sort()).toEqual(['artifacts', 'logs', 'work']);
    expect((await readdir(path.join(layout.dir, 'logs'))).sort()).toEqual(['failed', 'master', 'running', 'succeeded']);
  });
});

describe('appendMasterLog', () => {
  it('appends time-stamped lines, one stamp per line, concurrent writers never mixing lines', async () => {
    await openNight(layout);
    const at = new Date('2026-11-22T08:05:00Z');
    await appendMasterLog(layout, 'run', 'night starts\nrecipes at abc123\n', at);
    await Promise.all(Array.from({ length: 20 }, (_, i) => appendMasterLog(layout, 'run', `line ${i}`, at)));
    const lines = (await readFile(path.join(layout.logs.master, 'run.log'), 'utf8')).trimEnd().split('\n');
    expect(lines.slice(0, 2)).toEqual(['2026-11-22T08:05:00.000Z night starts', '2026-11-22T08:05:00.000Z recipes at abc123']);
    expect(lines.slice(2).sort()).toEqual(Array.from({ length: 20 }, (_, i) => `2026-11-22T08:05:00.000Z line ${i}`).sort());
  });

  it('refuses a name that would leave logs/master', async () => {
    await expect(appendMasterLog(layout, '../night', 'x')).rejects.toThrow(/not a plain log name/);
  });
});
