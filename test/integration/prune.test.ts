/**
 * `nightshift prune` on real night folders in a temp root (today fixed with --date) and real
 * containers. Every test uses its own machine name: prune removes containers by machine label, and
 * other test files run nights (machine m1) at the same time.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { pruneNights } from '../../src/runner/prune.js';
import { folderSize } from '../../src/files.js';
import { addDays, nightDate } from '../../src/night/night-date.js';
import { markRoot, ROOT_MARKER } from '../../src/night/root-marker.js';
import { removeConfigDirs, writeConfigDir } from '../helpers/config-dir.js';
import { runCli } from '../helpers/run-cli.js';
import { containersWithLabel, docker, dockerAvailable, removeContainersWithLabel, TEST_IMAGE } from '../helpers/docker.js';

const TODAY = '2026_11_22';
const NIGHTS = ['2026_11_10', '2026_11_15', '2026_11_18', '2026_11_19', '2026_11_20', '2026_11_21', TODAY, '2026_11_23'];
const JUNK = ['nightlies', '2026_13_01', 'tmp', '2026_11_01.old', '2026-11-01', 'published'];

let root: string;
let configDir: string;
let machine: string;

beforeEach(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'nightshift-prune-'));
  // A root nightshift made: its first night marked it.
  await markRoot(root, 'run');
  configDir = writeConfigDir({
    matrix: 'recipes: { repo: "file:///nonexistent/recipes.git", ref: main }\naxes:\n  python: ["3.12"]\npackages:\n  wheel:\n    executor: host\n    command: ["true"]\n',
    schedules: { nightly: `cron: "5 0 * * *"\ntimezone: UTC\nroot: "${root}"\nkeep_days: 3\nmachines:\n  m1: { slots: 1 }\n` },
  });
  machine = `prune-${randomBytes(4).toString('hex')}`;
  for (const night of NIGHTS) await makeNight(night);
  for (const name of JUNK) await mkdir(path.join(root, name, 'inside'), { recursive: true });
  await writeFile(path.join(root, '2026_11_02'), 'a file named like a night is not a night');
});
afterEach(() => rm(root, { recursive: true, force: true }));
afterAll(() => removeConfigDirs());

/** A night folder as a run leaves it: logs, an artifact, night.json. */
async function makeNight(night: string): Promise<void> {
  const dir = path.join(root, night);
  await mkdir(path.join(dir, 'logs', 'succeeded'), { recursive: true });
  await mkdir(path.join(dir, 'artifacts', 'wheel_3.12'), { recursive: true });
  await writeFile(path.join(dir, 'logs', 'succeeded', 'wheel_3.12.log'), 'built\n');
  await writeFile(path.join(dir, 'artifacts', 'wheel_3.12', 'wheel-1.0-py3-none-any.whl'), Buffer.alloc(64 * 1024, 7));
  await writeFile(path.join(dir, 'night.json'), JSON.stringify({ version: 1, date: night, builds: [] }));
}

async function lockNight(night: string, pid: number): Promise<void> {
  const lock = { pid, host: os.hostname(), started_at: new Date().toISOString(), purpose: 'run' };
  await writeFile(path.join(root, night, 'night.lock'), JSON.stringify(lock));
}

/** `nightshift prune ARGS --config DIR --machine M --date TODAY`, in process. */
const cli = (...args: string[]) => runCli(['prune', '--config', configDir, '--machine', machine, '--date', TODAY, ...args]);

const present = async () => (await readdir(root)).filter((name) => name !== ROOT_MARKER).sort();
/** The night folders left, oldest first. */
const nightsLeft = async () => (await present()).filter((name) => NIGHTS.includes(name));
const junkAndFile = [...JUNK, '2026_11_02'];

describe('nightshift prune', () => {
  it('keeps exactly keep_days nights up to --date, and every folder that is not a night', async () => {
    const result = await cli();
    expect(result.stderr).toBe('');
    expect(result.exitCode).toBe(0);
    expect(await present()).toEqual(['2026_11_20', '2026_11_21', TODAY, '2026_11_23', ...junkAndFile].sort());
    expect(existsSync(path.join(root, 'nightlies', 'inside'))).toBe(true);
    expect(result.stdout.split('\n')).toEqual(
      expect.arrayContaining([
        `nights under ${root}: keeping 3 nights, 2026_11_20 to ${TODAY}`,
        'removed night 2026_11_10',
        'removed night 2026_11_15',
        'removed night 2026_11_18',
        'removed night 2026_11_19',
        'kept 2026_11_20, 2026_11_21',
        `kept ${TODAY}: tonight`,
        'kept 2026_11_23: dated after today',
      ]),
    );
  });

  it('--dry-run removes nothing and says what it would remove', async () => {
    const before = await present();
    const result = await cli('--dry-run');
    expect(result.exitCode).toBe(0);
    expect(await present()).toEqual(before);
    expect(result.stdout).toMatch(/^dry run: nights under .*: keeping 3 nights/m);
    expect(result.stdout).toMatch(/^would remove night 2026_11_10$/m);
    expect(result.stdout).toMatch(/^would remove night 2026_11_19$/m);
    expect(result.stdout).not.toMatch(/^removed/m);
  });

  /** What `prune --json` prints. */
  interface PruneJson {
    dry_run: boolean;
    keep_days: number;
    today: string;
    nights: { removed: { date: string; bytes: number }[]; kept: { date: string; reason: string | null }[] };
    containers_removed: { name: string; night: string | null }[];
    caches: { dir: string; cap_bytes: number; removed: { key: string; bytes: number; last_used_at: string }[]; kept: { key: string; reason: string | null }[] } | null;
    bytes_freed: number;
    errors: string[];
  }
  const OLD_NIGHTS = ['2026_11_10', '2026_11_15', '2026_11_18', '2026_11_19'];

  it('--json: the nights removed with their bytes, those kept with why, and the caches trimmed; the plain lines on stderr', async () => {
    // A cap of 100k: the cache unused for five days goes, the one used today stays.
    configDir = writeConfigDir({
      matrix: 'recipes: { repo: "file:///nonexistent/recipes.git", ref: main }\naxes:\n  python: ["3.12"]\npackages:\n  wheel:\n    executor: host\n    command: ["true"]\n',
      schedules: { nightly: `cron: "5 0 * * *"\ntimezone: UTC\nroot: "${root}"\nkeep_days: 3\ncache_size: 100k\nmachines:\n  m1: { slots: 1 }\n` },
    });
    for (const [key, kib, daysAgo] of [
      ['old', 200, 5],
      ['new', 10, 0],
    ] as const) {
      await mkdir(path.join(root, 'cache', key), { recursive: true });
      await writeFile(path.join(root, 'cache', key, 'obj'), Buffer.alloc(kib * 1024, 1));
      const when = new Date(Date.now() - daysAgo * 86_400_000);
      await utimes(path.join(root, 'cache', key), when, when);
    }
    const sizes = new Map<string, number>();
    for (const name of [...OLD_NIGHTS, 'cache/old']) sizes.set(name, await folderSize(path.join(root, name)));

    const result = await cli('--json');
    expect(result.exitCode).toBe(0);
    const answer = JSON.parse(result.stdout) as PruneJson;
    expect(answer).toMatchObject({ dry_run: false, keep_days: 3, today: TODAY, containers_removed: [], errors: [] });
    expect(answer.nights.removed).toEqual(OLD_NIGHTS.map((date) => ({ date, bytes: sizes.get(date) })));
    for (const night of answer.nights.removed) expect(existsSync(path.join(root, night.date))).toBe(false);
    expect(answer.nights.kept).toEqual([
      { date: '2026_11_20', reason: 'recent' },
      { date: '2026_11_21', reason: 'recent' },
      { date: TODAY, reason: 'today' },
      { date: '2026_11_23', reason: 'future' },
    ]);
    expect(await nightsLeft()).toEqual(answer.nights.kept.map((k) => k.date));
    expect(answer.caches).toMatchObject({ dir: path.join(root, 'cache'), cap_bytes: 100 * 1024, kept: [{ key: 'new', reason: 'within-cap' }] });
    expect(answer.caches!.removed).toEqual([{ key: 'old', bytes: sizes.get('cache/old'), last_used_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) as unknown }]);
    expect(existsSync(path.join(root, 'cache', 'old'))).toBe(false);
    expect(answer.bytes_freed).toBe([...sizes.values()].reduce((sum, bytes) => sum + bytes, 0));
    // Each removed night held a 64 KiB artifact.
    expect(answer.bytes_freed).toBeGreaterThan(4 * 64 * 1024 + 200 * 1024);
    expect(result.stderr).toMatch(/^removed night 2026_11_10$/m);
  });

  it('--dry-run --json: what would go and the bytes it would free, with nothing removed', async () => {
    const before = await present();
    const sizes = await Promise.all(OLD_NIGHTS.map((night) => folderSize(path.join(root, night))));
    const result = await cli('--dry-run', '--json');
    expect(result.exitCode).toBe(0);
    const answer = JSON.parse(result.stdout) as PruneJson;
    expect(answer.dry_run).toBe(true);
    expect(answer.nights.removed).toEqual(OLD_NIGHTS.map((date, i) => ({ date, bytes: sizes[i] })));
    expect(answer.bytes_freed).toBe(sizes.reduce((sum, bytes) => sum + bytes, 0));
    expect(await present()).toEqual(before);
    expect(result.stderr).toMatch(/^would remove night 2026_11_10$/m);
  });

  it('--keep-days overrides keep_days', async () => {
    expect((await cli('--keep-days', '1')).exitCode).toBe(0);
    expect(await present()).toEqual([TODAY, '2026_11_23', ...junkAndFile].sort());
  });

  it('--keep-days 6 keeps 2026_11_18 and removes 2026_11_16 and older', async () => {
    expect((await cli('--keep-days', '6')).exitCode).toBe(0);
    expect(await nightsLeft()).toEqual(['2026_11_18', '2026_11_19', '2026_11_20', '2026_11_21', TODAY, '2026_11_23']);
  });

  it.each(['0', '-1', 'five', '2.5', '', '3651', '99999999999'])('refuses --keep-days %j with exit 2 and removes nothing', async (value) => {
    const before = await present();
    const result = await cli('--keep-days', value);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/--keep-days expects a whole number of nights from 1 \(only tonight\) to 3650 \(ten years\)/);
    expect(await present()).toEqual(before);
  });

  it('refuses a --date that does not exist', async () => {
    const result = await cli('--date', '2026_11_31');
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/--date "2026_11_31" is not a real date/);
  });

  it('keeps an old night whose lock a live process holds, and removes one with a dead holder', async () => {
    await lockNight('2026_11_15', process.pid);
    const dead = await execa(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
    await lockNight('2026_11_18', Number(dead.stdout));
    const result = await cli();
    expect(result.exitCode).toBe(0);
    expect(await present()).toContain('2026_11_15');
    expect(await present()).not.toContain('2026_11_18');
    expect(result.stdout).toMatch(/^kept 2026_11_15: in use: a live nightshift holds its lock$/m);
  });

  it('keeps the newest night when every night is old', async () => {
    const result = await cli('--date', '2026_11_29');
    expect(result.exitCode).toBe(0);
    expect(await nightsLeft()).toEqual(['2026_11_23']);
    expect(result.stdout).toMatch(/^kept 2026_11_23: the newest night, always kept$/m);
  });

  it('goes on with the other nights when one cannot be removed, says what to do, and exits 4', async () => {
    // Immutable for root too (chattr +i), plain read-only for anyone else.
    const stuck = path.join(root, '2026_11_15', 'artifacts', 'wheel_3.12');
    const asRoot = process.getuid?.() === 0;
    if (asRoot) await execa('chattr', ['+i', stuck]);
    else await execa('chmod', ['a-w', stuck]);
    try {
      const result = await cli();
      expect(result.exitCode).toBe(4);
      expect(result.stderr).toMatch(
        new RegExp(`nightshift: could not remove night 2026_11_15: no permission to delete .*wheel_3.12.* remove it as root \\(sudo rm -rf ${root}/2026_11_15\\)`),
      );
      expect(result.stdout).toMatch(/^removed night 2026_11_10$/m);
      expect(result.stdout).toMatch(/^removed night 2026_11_18$/m);
      expect(await nightsLeft()).toEqual(['2026_11_15', '2026_11_20', '2026_11_21', TODAY, '2026_11_23']);
      // The prune's own lock did not stay behind in the folder it could not remove.
      expect(existsSync(path.join(root, '2026_11_15', 'night.lock'))).toBe(false);
    } finally {
      if (asRoot) await execa('chattr', ['-i', stuck]);
      else await execa('chmod', ['u+w', stuck]);
    }
  });

  it("a --date after the real today (a typo'd month) ages nights from the real today: recent nights stay", async () => {
    const today = nightDate(new Date(), 'UTC');
    const recent = [addDays(today, -2), addDays(today, -1), today];
    for (const night of recent) await makeNight(night);
    const typo = addDays(today, 365);
    const result = await cli('--date', typo, '--keep-days', '3');
    expect(result.exitCode).toBe(0);
    expect(await nightsLeft()).toEqual([]);
    for (const night of recent) expect(await present()).toContain(night);
    expect(result.stdout).toContain(`nights under ${root}: keeping 3 nights, ${recent[0]!} to ${today}`);
    expect(result.stdout).toContain(`${typo} is after today (${today} in UTC): nights were aged from ${today}`);
  });

  it('removes nothing in a root without the marker and never marks it itself (exit 2, naming the root and the fix)', async () => {
    await rm(path.join(root, ROOT_MARKER));
    const before = await present();
    const result = await cli('--keep-days', '1');
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain(`nightshift: nothing removed under ${root}: it has no .nightshift-root, so nightshift did not make it`);
    expect(result.stderr).toMatch(/`nightshift run` marks it when it opens its next night there/);
    expect(result.stdout).toBe('');
    expect(await present()).toEqual(before);
    expect(existsSync(path.join(root, ROOT_MARKER))).toBe(false);
  });

  it('refuses a system folder as root, even one with a marker', async () => {
    const result = await cli('--root', '/etc');
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/nothing removed under \/etc: \/etc is a system folder; give nightshift a folder of its own/);
  });

  it('prunes nothing under a root that does not exist yet', async () => {
    const result = await cli('--root', path.join(root, 'missing'));
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toMatch(/^no night removed$/m);
  });
});

describe('nightshift prune and leftover containers', () => {
  const tag = `prune-test-${randomBytes(4).toString('hex')}`;
  beforeEach(() => dockerAvailable());
  afterAll(() => removeContainersWithLabel(tag));

  /** A running container with these labels (and the test's own label, for cleanup). */
  async function start(name: string, labels: Record<string, string>): Promise<string> {
    const full = `${tag}-${name}`;
    const flags = Object.entries({ ...labels, [tag]: '1' }).flatMap(([k, v]) => ['--label', `${k}=${v}`]);
    const r = await docker(['run', '-d', '--rm', '--name', full, '--network', 'none', ...flags, TEST_IMAGE, 'sleep', '300']);
    if (r.failed) throw new Error(`docker run failed: ${r.stderr}`);
    return full;
  }

  it("removes this machine's containers of nights without a live run, and nothing else", async () => {
    await lockNight('2026_11_15', process.pid);
    const ours = { 'nightshift.machine': machine, 'nightshift.root': root, 'nightshift.build': 'wheel_3.12' };
    const old = await start('old', { ...ours, 'nightshift.night': '2026_11_10' });
    const tonight = await start('tonight', { ...ours, 'nightshift.night': TODAY });
    const running = await start('running', { ...ours, 'nightshift.night': '2026_11_15' });
    const other = await start('other', { ...ours, 'nightshift.machine': `${machine}-other`, 'nightshift.night': '2026_11_10' });
    // Same machine, another schedule's root: its nights are not ours to judge.
    const otherRoot = await start('otherroot', { ...ours, 'nightshift.root': `${root}-other`, 'nightshift.night': '2026_11_10' });
    const unlabelled = await start('unlabelled', {});
    const noNight = await start('nonight', { 'nightshift.machine': machine, 'nightshift.root': root });

    const dry = await cli('--dry-run');
    expect(dry.exitCode).toBe(0);
    expect(dry.stdout).toMatch(new RegExp(`^would remove leftover container ${old} \\(night 2026_11_10\\)$`, 'm'));
    expect((await containersWithLabel(tag)).sort()).toHaveLength(7);
    const dryJson = JSON.parse((await cli('--dry-run', '--json')).stdout) as { containers_removed: { name: string; night: string | null }[] };
    expect(dryJson.containers_removed).toContainEqual({ name: old, night: '2026_11_10' });

    const result = await cli();
    expect(result.stderr).toBe('');
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`^removed leftover container ${old} \\(night 2026_11_10\\)$`, 'm'));
    expect(result.stdout).toMatch(new RegExp(`^removed leftover container ${tonight} \\(night ${TODAY}\\)$`, 'm'));
    expect((await containersWithLabel(tag)).sort()).toEqual([noNight, other, otherRoot, running, unlabelled].sort());
  });

  it('records docker trouble as an error but still prunes the folders', async () => {
    const result = await pruneNights({ root, today: TODAY, timezone: 'UTC', keepDays: 3, dryRun: false, machine, docker: 'false' });
    expect(result.removed).toEqual(['2026_11_10', '2026_11_15', '2026_11_18', '2026_11_19']);
    expect(result.errors).toEqual([expect.stringMatching(/^leftover containers were not checked: docker ps failed: .*; start Docker/)]);
  });

  it('only notes a machine without Docker (nothing to clean there)', async () => {
    const result = await pruneNights({ root, today: TODAY, timezone: 'UTC', keepDays: 3, dryRun: false, machine, docker: path.join(root, 'no-docker-here') });
    expect(result.removed).toHaveLength(4);
    expect(result.errors).toEqual([]);
    expect(result.notes).toEqual([expect.stringMatching(/no-docker-here not found: no leftover containers to look for/)]);
  });
});
