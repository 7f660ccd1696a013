/**
 * Disk faults on a real, small tmpfs (2 MiB) holding the night's root, with real host builds that fill
 * it: a build that cannot write fails with the reason and the night goes on to the end; the commands a
 * person runs next say what is wrong and where; nightshift's own records that cannot be written end the
 * night with exit 4 and the file, never silently and never as a crash (70). Needs root (mount).
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeConfigDir, removeConfigDirs } from '../helpers/config-dir.js';
import { makeRecipesRepo, type RecipesRepo } from '../helpers/git.js';
import { HostExecutor } from '../../src/build/host-executor.js';
import { runBuilds } from '../../src/runner/run-builds.js';
import type { Cell } from '../../src/config/model.js';
import { FINISHED_STATUSES, nightLayout } from '../../src/night/layout.js';
import { openNight } from '../../src/night/open-night.js';
import { pendingRecord } from '../../src/night/resume.js';
import { NightStateStore } from '../../src/night/state.js';
import { pkg } from '../helpers/model.js';
import type { NightState } from '../../src/night/state.js';

const CLI = path.resolve(import.meta.dirname, '../../dist/cli.js');
const DATE = '2031_03_04';

describe('disk faults (a full tmpfs under root)', () => {
  let mnt: string;
  let repo: RecipesRepo;

  beforeAll(async () => {
    mnt = await mkdtemp(path.join(os.tmpdir(), 'nightshift-tmpfs-'));
    await execa('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', mnt]);
    repo = await makeRecipesRepo({ files: { README: 'recipes\n' } });
  });
  afterAll(async () => {
    await execa('umount', [mnt], { reject: false });
    await rm(mnt, { recursive: true, force: true });
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset when the before-hook failed
    await repo?.cleanup();
    removeConfigDirs();
  });

  /** A config whose night root is `<tmpfs>/<name>`: `fill` runs first (longest estimate), then the small `ok` builds. */
  function config(name: string, fillScript: string): { configDir: string; root: string; cli: (...args: string[]) => ReturnType<typeof execa> } {
    const root = path.join(mnt, name);
    const matrix = `recipes: { repo: "${repo.url}", ref: main }
axes:
  python: ["3.11", "3.12"]
packages:
  fill:
    executor: host
    command: ["sh", "-c", ${JSON.stringify(fillScript)}]
    axes: { python: ["3.12"] }
    estimate: 20m
    timeout: 1m
  ok:
    executor: host
    command: ["sh", "-c", "echo wheel > \\"$NIGHTSHIFT_OUT/ok.whl\\""]
    timeout: 1m
`;
    const configDir = writeConfigDir({ matrix, schedules: { nightly: `cron: "0 1 * * *"\nroot: "${root}"\nmachines:\n  m1: { slots: 1 }\n` } });
    const cli = (...args: string[]) => execa('node', [CLI, '--machine', 'm1', ...args, '--config', configDir, '--date', DATE], { reject: false });
    return { configDir, root, cli };
  }
  const state = async (root: string) => JSON.parse(await readFile(path.join(root, DATE, 'night.json'), 'utf8')) as NightState;

  /** Fills what is left of the tmpfs with one file; returns it (remove it to free the space). */
  async function fillDisk(): Promise<string> {
    const file = path.join(mnt, 'filler');
    await execa('sh', ['-c', `dd if=/dev/zero of="${file}" bs=64k 2>/dev/null; true`]);
    return file;
  }

  it('a build that fills the disk fails with "no space left on device"; the others run and the night ends with exit 1', async () => {
    const night = config('full-build', 'dd if=/dev/zero of="$NIGHTSHIFT_OUT/big.whl" bs=64k count=64 && echo done');
    const result = await night.cli('run');
    expect(result.stderr).not.toMatch(/internal error/);
    expect(result.exitCode).toBe(1);

    const s = await state(night.root);
    expect(s.builds.every((b) => FINISHED_STATUSES.includes(b.status))).toBe(true);
    const fill = s.builds.find((b) => b.id === 'fill_3.12')!;
    expect(fill.status).toBe('failed');
    expect(fill.reason).toMatch(new RegExp(`^no space left on device: free space under ${mnt} \\(exit code 1\\)`));
    expect(fill.log).toBe('logs/failed/fill_3.12.log');
    expect(await readFile(path.join(night.root, DATE, fill.log!), 'utf8')).toMatch(/No space left on device/);
    // Its partial output was removed, so the next builds and night.json could be written.
    expect(existsSync(path.join(night.root, DATE, 'artifacts', 'fill_3.12'))).toBe(false);
    expect(s.builds.filter((b) => b.package === 'ok').map((b) => b.status)).toEqual(['succeeded', 'succeeded']);
    expect(await readdir(path.join(night.root, DATE, 'logs', 'running'))).toEqual([]);
    expect(existsSync(path.join(night.root, DATE, 'night.lock'))).toBe(false);
    expect(result.stdout).toMatch(/failed fill_3\.12: no space left on device/);

    // The next commands on a disk that is full: status reads and works; upload and report say where to free space.
    const filler = await fillDisk();
    try {
      const status = await night.cli('status');
      expect(status.exitCode).toBe(0);
      expect(status.stdout).toMatch(/fill_3\.12 +failed .*no space left on device/);
      for (const command of ['upload', 'report']) {
        const r = await night.cli(command);
        expect({ command, exitCode: r.exitCode }).toEqual({ command, exitCode: 4 });
        expect(r.stderr).toMatch(new RegExp(`no space left on device: free space under ${mnt}`));
        expect(r.stderr).not.toMatch(/internal error|ENOSPC/);
      }
    } finally {
      await rm(filler, { force: true });
      await rm(night.root, { recursive: true, force: true });
    }
  });

  it("the night's records that cannot be written end the night with exit 4 naming the file, never silently and never 70", async () => {
    // The build succeeds, then fills the disk outside its own folders: nightshift cannot record its end.
    // Only the first time: when its end went unrecorded, the next run builds it again, on a disk left free.
    const night = config(
      'full-records',
      'echo wheel > "$NIGHTSHIFT_OUT/fill.whl"; night="$NIGHTSHIFT_OUT/../.."; [ -e "$night/filled" ] && exit 0; : > "$night/filled"; dd if=/dev/zero of="$night/filler" bs=4k 2>/dev/null; exit 0',
    );
    try {
      const result = await night.cli('run');
      expect(result.exitCode).toBe(4);
      // night.json's journal may take the builds' ends in room its file already has; then the next of the
      // night's records to need a block (history.json) is the one named.
      expect(result.stderr).toMatch(
        new RegExp(`(records could not be kept.*night\\.json|could not write ${mnt}/full-records/history\\.json).*no space left on device: free space under ${mnt}`),
      );
      expect(result.stderr).not.toMatch(/internal error/);
      expect(existsSync(path.join(night.root, DATE, 'night.lock'))).toBe(false);

      // Once space is freed, the next run picks the night up again.
      await rm(path.join(night.root, DATE, 'filler'));
      const again = await night.cli('run');
      expect(again.stderr).not.toMatch(/internal error/);
      expect((await state(night.root)).builds.every((b) => FINISHED_STATUSES.includes(b.status))).toBe(true);
    } finally {
      await rm(night.root, { recursive: true, force: true });
    }
  });

  it('the slot runner itself rejects when it cannot record a build, instead of returning as if all were recorded', async () => {
    // The runner alone (no end-of-night write after it): its bookkeeping error must reach its caller.
    const layout = nightLayout(path.join(mnt, 'runner-records'), DATE);
    await openNight(layout);
    await mkdir(layout.recipes, { recursive: true });
    const store = new NightStateStore(layout.state);
    const fill = {
      id: 'fill_1',
      values: {},
      package: pkg('fill', 60, {
        executor: 'host',
        image: null,
        command: ['sh', '-c', 'dd if=/dev/zero of="$NIGHTSHIFT_OUT/../../filler" bs=4k 2>/dev/null; exit 0'],
        artifacts: 'optional',
      }),
    } satisfies Cell;
    // Other cells of the night (not run here) make night.json larger than what a finished build frees.
    const others = Array.from({ length: 80 }, (_, i) => pendingRecord({ ...fill, id: `other_${i}` }, i + 2, 60));
    await store.replace({ version: 1, date: DATE, machine: 'm1', schedule: 'nightly', updated_at: new Date().toISOString(), builds: [pendingRecord(fill, 1, 60), ...others] });
    try {
      const run = runBuilds({
        layout,
        cells: [fill],
        slots: 1,
        matrix: { file: 'matrix.yaml', recipes: { repo: 'unused', ref: 'main' }, axes: [], packages: [], env: {}, exclude: [], include: [] },
        machine: 'm1',
        store,
        executors: { host: new HostExecutor(), docker: new HostExecutor() },
        signal: new AbortController().signal,
      });
      await expect(run).rejects.toMatchObject({ exitCode: 4, message: expect.stringMatching(/records could not be kept.*night\.json.*no space left on device/) as unknown });
    } finally {
      await rm(layout.root, { recursive: true, force: true });
    }
  });
});
