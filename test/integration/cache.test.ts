/**
 * Package caches for real: a container build writes into its cache and the next night's build finds
 * it (a host build likewise through NIGHTSHIFT_CACHE); prune trims the least recently used caches
 * over cache_size, keeps the recent one and any a running night may use, and --dry-run only tells.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { removeConfigDirs, writeConfigDir } from '../helpers/config-dir.js';
import { dockerAvailable, TEST_IMAGE } from '../helpers/docker.js';
import { makeRecipesRepo, type RecipesRepo } from '../helpers/git.js';
import { runCli } from '../helpers/run-cli.js';
import { markRoot } from '../../src/night/root-marker.js';

const MiB = 1024 * 1024;
const DAY_MS = 86_400_000;

// Reads what an earlier build left in the cache, then leaves its own mark for the next one.
const BUILD_SH = [
  'seen=$(cat "$NIGHTSHIFT_CACHE/last" 2>/dev/null || echo nothing)',
  'echo "cache at $NIGHTSHIFT_CACHE had: $seen"',
  'echo "$seen" > "$NIGHTSHIFT_OUT/seen.txt"',
  'echo "$NIGHTSHIFT_BUILD_ID on $NIGHTSHIFT_DATE" > "$NIGHTSHIFT_CACHE/last"',
].join('\n');

describe('package caches across nights', () => {
  let repo: RecipesRepo;
  let root: string;
  let configDir: string;
  const machine = `cache-${randomBytes(4).toString('hex')}`;
  const [first, second] = ['2061_03_01', '2061_03_02'];
  const cli = (date: string, ...args: string[]) => runCli([...args, '--config', configDir, '--machine', machine, '--date', date]);
  const seen = async (date: string, id: string) => (await readFile(path.join(root, date, 'artifacts', id, 'seen.txt'), 'utf8')).trim();

  beforeAll(async () => {
    await dockerAvailable();
    repo = await makeRecipesRepo({ files: { 'build.sh': BUILD_SH } });
    root = await mkdtemp(path.join(os.tmpdir(), 'nightshift-cache-'));
    const run = '["sh", "-c", "exec sh \\"$NIGHTSHIFT_RECIPES/build.sh\\""]';
    configDir = writeConfigDir({
      matrix: `recipes: { repo: "${repo.url}", ref: main }
axes:
  python: ["3.12"]
  cuda: [cpu]
packages:
  wheel:
    image: ${TEST_IMAGE}
    network: none
    command: ${run}
    timeout: 1m
    cache: { key: "{package}-{cuda}", path: /var/cache/build }
  mac:
    executor: host
    command: ${run}
    timeout: 1m
    cache: { key: "host-{python}" }
`,
      // 3 MiB: the stale cache planted before the second night is over it, the builds' tiny ones are not.
      schedules: { nightly: `cron: "0 1 * * *"\ntimezone: UTC\nroot: "${root}"\nkeep_days: 30\ncache_size: 3m\nmachines:\n  ${machine}: { slots: 2 }\n` },
    });
  }, 120_000);
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset when the before-hook failed
    await repo?.cleanup();
    removeConfigDirs();
  });
  beforeEach(() => dockerAvailable());

  it('mounts the cache read-write: the first night writes it, the next night finds it', async () => {
    const one = await cli(first, 'run');
    expect(one.stderr).toBe('');
    expect(one.exitCode).toBe(0);
    expect(await seen(first, 'wheel_3.12_cpu')).toBe('nothing');
    expect(await readFile(path.join(root, 'cache', 'wheel-cpu', 'last'), 'utf8')).toBe(`wheel_3.12_cpu on ${first}\n`);
    const log = await readFile(path.join(root, first, 'logs', 'succeeded', 'wheel_3.12_cpu.log'), 'utf8');
    expect(log).toContain(`nightshift: cache ${path.join(root, 'cache', 'wheel-cpu')} mounted at /var/cache/build`);
    expect(log).toContain('cache at /var/cache/build had: nothing');

    // A cache nobody used for ten days, larger than cache_size: the second night's prune trims it.
    const stale = path.join(root, 'cache', 'stale');
    await mkdir(stale);
    await writeFile(path.join(stale, 'blob'), Buffer.alloc(4 * MiB, 1));
    const tenDaysAgo = new Date(Date.now() - 10 * DAY_MS);
    await utimes(stale, tenDaysAgo, tenDaysAgo);

    const two = await cli(second, 'run');
    expect(two.stderr).toBe('');
    expect(two.exitCode).toBe(0);
    expect(await seen(second, 'wheel_3.12_cpu')).toBe(`wheel_3.12_cpu on ${first}`);
    expect(two.stdout).toMatch(/trimmed cache\(s\) to cache_size, least recently used first: stale/);
    expect((await readdir(path.join(root, 'cache'))).sort()).toEqual(['host-3.12', 'wheel-cpu']);
  });

  it('gives a host build the folder itself in NIGHTSHIFT_CACHE', async () => {
    const hostDir = path.join(root, 'cache', 'host-3.12');
    expect(await seen(first, 'mac_3.12_cpu')).toBe('nothing');
    expect(await seen(second, 'mac_3.12_cpu')).toBe(`mac_3.12_cpu on ${first}`);
    const log = await readFile(path.join(root, second, 'logs', 'succeeded', 'mac_3.12_cpu.log'), 'utf8');
    expect(log).toContain(`cache at ${hostDir} had: mac_3.12_cpu on ${first}`);
  });
});

describe('nightshift prune trims caches over cache_size', () => {
  const TODAY = '2061_05_10';
  let root: string;
  let configDir: string;
  let machine: string;
  const cacheDir = (key: string) => path.join(root, 'cache', key);
  const cli = (...args: string[]) => runCli(['prune', '--config', configDir, '--machine', machine, '--date', TODAY, ...args]);
  const cachesLeft = async () => (await readdir(path.join(root, 'cache'))).sort();

  const configWithCap = (cap: string) =>
    writeConfigDir({
      matrix: 'recipes: { repo: "file:///nonexistent/recipes.git", ref: main }\naxes:\n  python: ["3.12"]\npackages:\n  wheel:\n    executor: host\n    command: ["true"]\n',
      schedules: { nightly: `cron: "5 0 * * *"\ntimezone: UTC\nroot: "${root}"\ncache_size: ${cap}\nmachines:\n  m1: { slots: 1 }\n` },
    });

  /** A cache of `mib` MiB (files written as a container would, in a subfolder) last used `daysAgo` days ago. */
  async function makeCache(key: string, mib: number, daysAgo: number): Promise<void> {
    await mkdir(path.join(cacheDir(key), 'ccache', 'a'), { recursive: true });
    await writeFile(path.join(cacheDir(key), 'ccache', 'a', 'obj'), Buffer.alloc(mib * MiB, 2));
    const when = new Date(Date.now() - daysAgo * DAY_MS);
    await utimes(cacheDir(key), when, when);
  }

  beforeEach(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'nightshift-cache-prune-'));
    await markRoot(root, 'run');
    machine = `cache-prune-${randomBytes(4).toString('hex')}`;
    configDir = configWithCap('2500k');
    await makeCache('oldest', 1, 9);
    await makeCache('older', 1, 5);
    await makeCache('recent', 1, 1);
    await makeCache('today', 1, 0);
    await writeFile(path.join(root, 'cache', 'notes.txt'), 'not a cache: a file');
  });
  afterEach(() => rm(root, { recursive: true, force: true }));

  it('--dry-run lists what would go with sizes and last use, and removes nothing', async () => {
    const result = await cli('--dry-run');
    expect(result.stderr).toBe('');
    expect(result.exitCode).toBe(0);
    const lines = result.stdout.split('\n');
    expect(lines).toContain(`caches under ${path.join(root, 'cache')}: 4 taking 4.0M, cache_size 2.4M`);
    expect(lines.filter((line) => line.startsWith('would remove cache'))).toEqual([
      expect.stringMatching(/^would remove cache oldest \(1\.0M, last used \d{4}-\d\d-\d\d \d\d:\d\d UTC\)$/),
      expect.stringMatching(/^would remove cache older \(1\.0M, last used /),
    ]);
    expect(lines).toContain('caches would take 2.0M of 2.4M');
    expect(await cachesLeft()).toEqual(['notes.txt', 'older', 'oldest', 'recent', 'today']);
  });

  it('removes the least recently used caches until the rest fits, keeping the recent ones and other files', async () => {
    const result = await cli();
    expect(result.stderr).toBe('');
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toMatch(/^removed cache oldest \(1\.0M, last used .*\)$/m);
    expect(result.stdout).toMatch(/^removed cache older /m);
    expect(result.stdout).toMatch(/^caches now take 2\.0M of 2\.4M$/m);
    expect(await cachesLeft()).toEqual(['notes.txt', 'recent', 'today']);
    // Under the cap now: a second prune has nothing to trim.
    expect((await cli()).stdout).toMatch(/caches under .*: 2 taking 2\.0M, cache_size 2\.4M, nothing to trim/);
  });

  it('never removes a cache used since a running night started, even over the cap', async () => {
    // A live run (this process) holds tonight's lock since two days ago: "recent" and "today" may be mounted.
    await mkdir(path.join(root, TODAY), { recursive: true });
    const lock = { pid: process.pid, host: os.hostname(), started_at: new Date(Date.now() - 2 * DAY_MS).toISOString(), purpose: 'run' };
    await writeFile(path.join(root, TODAY, 'night.lock'), JSON.stringify(lock));
    // A cap of 1k: every cache would go, but the two in use stay, and prune says why.
    configDir = configWithCap('1k');
    const result = await cli();
    expect(result.stderr).toBe('');
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toMatch(/^removed cache oldest /m);
    expect(result.stdout).toMatch(/^removed cache older /m);
    expect(result.stdout).toMatch(/^kept cache recent \(1\.0M\): in use by a running night$/m);
    expect(result.stdout).toMatch(/^kept cache today \(1\.0M\): in use by a running night$/m);
    expect(result.stdout).toMatch(/^caches stay over cache_size: 2\.0M of 1K$/m);
    expect(await cachesLeft()).toEqual(['notes.txt', 'recent', 'today']);
  });
});

describe('a cache that cannot be opened', () => {
  it('fails only the builds that use it, with the reason in night.json and the log kept', async () => {
    const repo = await makeRecipesRepo({ files: { 'build.sh': BUILD_SH, 'plain.sh': 'echo plain > "$NIGHTSHIFT_OUT/plain.txt"' } });
    const root = await mkdtemp(path.join(os.tmpdir(), 'nightshift-cache-broken-'));
    try {
      // <root>/cache is a file: no cache folder can be made under it.
      await writeFile(path.join(root, 'cache'), 'in the way');
      const run = (script: string) => `["sh", "-c", "exec sh \\"$NIGHTSHIFT_RECIPES/${script}\\""]`;
      const configDir = writeConfigDir({
        matrix: `recipes: { repo: "${repo.url}", ref: main }\naxes:\n  python: ["3.12"]\npackages:\n  cached:\n    executor: host\n    command: ${run('build.sh')}\n    cache: { key: "{package}" }\n  plain:\n    executor: host\n    command: ${run('plain.sh')}\n`,
        schedules: { nightly: `cron: "0 1 * * *"\nroot: "${root}"\nmachines:\n  m1: { slots: 2 }\n` },
      });
      const date = '2061_07_01';
      const result = await runCli(['run', '--config', configDir, '--machine', 'm1', '--date', date]);
      expect(result.exitCode).toBe(1);
      const state = JSON.parse(await readFile(path.join(root, date, 'night.json'), 'utf8')) as { builds: { id: string; status: string; reason?: string }[] };
      const byId = Object.fromEntries(state.builds.map((b) => [b.id, b]));
      expect(byId['plain_3.12']!.status).toBe('succeeded');
      expect(byId['cached_3.12']!.status).toBe('failed');
      expect(byId['cached_3.12']!.reason).toMatch(/could not open the cache .*cache\/cached/);
      const log = await readFile(path.join(root, date, 'logs', 'failed', 'cached_3.12.log'), 'utf8');
      expect(log).toContain(`nightshift: cache ${path.join(root, 'cache', 'cached')}`);
    } finally {
      await rm(root, { recursive: true, force: true });
      await repo.cleanup();
    }
  });
});
