/**
 * Memory-aware admission with real containers: a machine with `memory: 1g` and 3 slots runs builds
 * that declare 600m and 300m. The running builds' declared memory never adds up to more than 1 GiB,
 * a small build backfills while a big one waits, Docker gets each build's --memory, and a build that
 * needs more than the whole budget fails without running.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { dockerAvailable, TEST_IMAGE } from '../helpers/docker.js';
import { makeRecipesRepo, type RecipesRepo } from '../helpers/git.js';
import { removeConfigDirs, writeConfigDir } from '../helpers/config-dir.js';
import { runCli } from '../helpers/run-cli.js';
import type { NightState } from '../../src/night/state.js';

const MiB = 1024 ** 2;
const DECLARED: Record<string, number> = { big: 600 * MiB, small: 300 * MiB };
// cgroup v2, else v1: the limit Docker set for the container.
const SCRIPT = (seconds: number) =>
  `echo "memory limit: $(cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes)"\nsleep ${seconds}\ntouch "$NIGHTSHIFT_OUT/done.txt"\n`;

describe('memory-aware admission with the docker executor', () => {
  let repo: RecipesRepo;
  let root: string;
  let configDir: string;
  const date = `20${60 + Math.floor(Math.random() * 30)}_0${1 + Math.floor(Math.random() * 9)}_1${Math.floor(Math.random() * 9)}`;
  let m1: Awaited<ReturnType<typeof runCli>>;
  const state = async () => JSON.parse(await readFile(path.join(root, date, 'night.json'), 'utf8')) as NightState;
  const cli = (machine: string, ...args: string[]) => runCli([...args, '--config', configDir, '--machine', machine, '--date', date]);

  beforeAll(async () => {
    await dockerAvailable();
    repo = await makeRecipesRepo({ files: { 'big.sh': SCRIPT(3), 'small.sh': SCRIPT(1) } });
    root = await mkdtemp(path.join(os.tmpdir(), 'nightshift-admission-'));
    const pkg = (name: string, script: string, memory: string, estimate: string) =>
      `  ${name}:\n    image: ${TEST_IMAGE}\n    network: none\n    command: ["sh", "-c", "exec sh \\"$NIGHTSHIFT_RECIPES/${script}\\""]\n    timeout: 1m\n    estimate: ${estimate}\n    resources: { memory: ${memory} }\n`;
    const matrix = `recipes: { repo: "${repo.url}", ref: main }\naxes:\n  python: ["3.11", "3.12"]\npackages:\n${pkg('big', 'big.sh', '600m', '20m')}${pkg('small', 'small.sh', '300m', '1m')}${pkg('huge', 'small.sh', '1000t', '1m')}`;
    const schedule = `cron: "0 1 * * *"\nroot: "${root}"\nmachines:\n  m1: { slots: 3, memory: 1g, builds: ["big_*", "small_*"] }\n  m2: { slots: 1, builds: ["huge_*"] }\n`;
    configDir = writeConfigDir({ matrix, schedules: { nightly: schedule } });
    m1 = await cli('m1', 'run');
  }, 60_000);
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
    removeConfigDirs();
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset when the before-hook failed
    await repo?.cleanup();
  });
  beforeEach(() => dockerAvailable());

  it('runs every build of the machine', async () => {
    expect(m1.stderr).toBe('');
    expect(m1.exitCode).toBe(0);
    const builds = (await state()).builds;
    expect(builds.map((b) => [b.id, b.status]).sort()).toEqual([
      ['big_3.11', 'succeeded'],
      ['big_3.12', 'succeeded'],
      ['small_3.11', 'succeeded'],
      ['small_3.12', 'succeeded'],
    ]);
  });

  it('never runs more declared memory than the budget at once', async () => {
    const builds = (await state()).builds.map((b) => ({ id: b.id, memory: DECLARED[b.package]!, from: Date.parse(b.started_at!), to: Date.parse(b.finished_at!) }));
    let peak = 0;
    for (const at of builds.map((b) => b.from)) {
      const running = builds.filter((b) => b.from <= at && at < b.to);
      peak = Math.max(
        peak,
        running.reduce((sum, b) => sum + b.memory, 0),
      );
    }
    expect(peak).toBeLessThanOrEqual(1024 * MiB);
    // The budget was used: a big and a small build did run together.
    expect(peak).toBe(900 * MiB);
  });

  it('starts a small build while the second big one waits for memory (backfill)', async () => {
    const s = await state();
    const at = (id: string) => Date.parse(s.builds.find((b) => b.id === id)!.started_at!);
    const ended = (id: string) => Date.parse(s.builds.find((b) => b.id === id)!.finished_at!);
    // Longest expected first: big_3.11 starts; big_3.12 does not fit beside it, so the small ones go first.
    expect(at('small_3.11')).toBeLessThan(at('big_3.12'));
    expect(at('small_3.12')).toBeLessThan(at('big_3.12'));
    expect(at('big_3.12')).toBeGreaterThanOrEqual(ended('big_3.11'));
  });

  it('gives Docker each build its declared memory', async () => {
    for (const [id, bytes] of [
      ['big_3.11', 600 * MiB],
      ['small_3.12', 300 * MiB],
    ] as const) {
      const log = await readFile(path.join(root, date, 'logs', 'succeeded', `${id}.log`), 'utf8');
      expect(log).toContain(`memory limit: ${bytes}`);
    }
  });

  it('fails a build that needs more than the whole (default) budget without running it', async () => {
    // A root per machine: a night folder belongs to one machine.
    const m2Root = path.join(root, 'm2');
    const m2 = await cli('m2', 'run', '--root', m2Root);
    expect(m2.exitCode, m2.stderr).toBe(1);
    const m2State = JSON.parse(await readFile(path.join(m2Root, date, 'night.json'), 'utf8')) as NightState;
    const huge = m2State.builds.filter((b) => b.package === 'huge');
    expect(huge).toHaveLength(2);
    for (const build of huge) {
      expect(build).toMatchObject({ status: 'failed', attempt: 0 });
      expect(build.reason).toMatch(/^needs 1000 TiB of memory, more than this machine's budget of [\d.]+ [GMT]iB$/);
      expect(build.started_at).toBeUndefined();
    }
  }, 30_000);
});
