/** A night folder's owner, manual builds in the resume plan, kept attempt logs, and finding a host build's command. */
import { chmod, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { findExecutable } from '../../src/build/host-containment.js';
import { NightshiftError } from '../../src/errors.js';
import { keepEarlierLogs } from '../../src/night/attempt-logs.js';
import { earlierAttemptLogs } from '../../src/night/follow-log.js';
import { nightLayout } from '../../src/night/layout.js';
import { assertNightOwner } from '../../src/night/lock.js';
import { planResume } from '../../src/night/resume.js';
import type { NightState } from '../../src/night/state.js';
import { cell } from '../helpers/model.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'nightshift-owner-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

describe('assertNightOwner', () => {
  it('lets the owner and a new night through, and refuses another machine with exit 2 naming the owner and the fix', () => {
    expect(() => assertNightOwner(undefined, 'm2', dir)).not.toThrow();
    expect(() => assertNightOwner({ machine: 'm1', date: '2026_11_22' }, 'm1', dir)).not.toThrow();
    let error: unknown;
    try {
      assertNightOwner({ machine: 'm1', date: '2026_11_22' }, 'm2', dir);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(NightshiftError);
    expect((error as NightshiftError).exitCode).toBe(2);
    expect((error as NightshiftError).message).toMatch(/night 2026_11_22 in .* belongs to machine m1 .*not m2: give each machine its own root/);
  });
});

describe('planResume with manual builds', () => {
  const state = (builds: NightState['builds']): NightState => ({ version: 1, date: '2026_11_22', machine: 'm1', schedule: 'nightly', updated_at: '', builds });
  it('marks the manual ids and only them; a rerun in the share drops an old mark', () => {
    const [a, b] = [cell('a_x', 10), cell('b_x', 10)];
    const previous = state([{ id: 'b_x', package: 'b', axes: {}, executor: 'host', image: null, status: 'failed', order: 1, estimate_s: 10, attempt: 1, manual: true }]);
    const plan = planResume(previous, [a, b], { force: true, estimate: () => 10, manual: new Set(['a_x']) });
    expect(plan.state.builds.map((r) => [r.id, r.manual, r.attempt])).toEqual([
      ['b_x', undefined, 1],
      ['a_x', true, 0],
    ]);
  });
});

describe('keepEarlierLogs', () => {
  it('renames the finished and the orphaned running log aside by attempt, never over an existing one', async () => {
    const layout = nightLayout(dir, '2026_11_22');
    for (const folder of Object.values(layout.logs)) await mkdir(folder, { recursive: true });
    await writeFile(path.join(layout.logs.failed, 'x.log'), 'attempt 2\n');
    await writeFile(path.join(layout.logs.failed, 'x.attempt-2.log'), 'kept earlier by a retry\n');
    await writeFile(path.join(layout.logs.running, 'x.log'), 'attempt 3, runner died\n');
    const kept = await keepEarlierLogs(layout, 'x', 3);
    expect(kept.map((f) => path.relative(layout.dir, f))).toEqual(['logs/failed/x.attempt-3.log', 'logs/failed/x.attempt-4.log']);
    expect((await readdir(layout.logs.failed)).sort()).toEqual(['x.attempt-2.log', 'x.attempt-3.log', 'x.attempt-4.log']);
    expect(await readdir(layout.logs.running)).toEqual([]);
    expect(await keepEarlierLogs(layout, 'none', 0)).toEqual([]);
    // `nightshift log` names them while the new attempt has no log yet.
    await writeFile(path.join(layout.logs.succeeded, 'x.attempt-1.log'), '');
    await writeFile(path.join(layout.logs.failed, 'x.y.attempt-1.log'), ''); // another build's
    expect((await earlierAttemptLogs(layout, 'x')).map((f) => path.relative(layout.dir, f))).toEqual([
      'logs/succeeded/x.attempt-1.log',
      'logs/failed/x.attempt-2.log',
      'logs/failed/x.attempt-3.log',
      'logs/failed/x.attempt-4.log',
    ]);
  });
});

describe('findExecutable', () => {
  it("finds a command on the build's PATH or relative to its folder, and says why one cannot run", async () => {
    await writeFile(path.join(dir, 'build.sh'), '#!/bin/sh\n');
    await writeFile(path.join(dir, 'plain.txt'), '');
    await chmod(path.join(dir, 'build.sh'), 0o755);
    expect(findExecutable('build.sh', `/nonexistent:${dir}`)).toBe(path.join(dir, 'build.sh'));
    expect(findExecutable('./build.sh', '/usr/bin', dir)).toBe(path.join(dir, 'build.sh'));
    expect(findExecutable('sh', '/nonexistent:/bin')).toBe('/bin/sh');
    expect(findExecutable('nightshift-no-such', '/bin')).toEqual({ error: 'command not found: nightshift-no-such' });
    expect(findExecutable('./plain.txt', '', dir)).toEqual({ error: 'command not executable: ./plain.txt' });
  });
});
