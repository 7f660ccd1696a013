/**
 * night.json and its journal with the real runner: readers polling while a night of quick host builds
 * runs only ever see a whole state that moves forward; a runner killed with SIGKILL loses no build end it
 * had recorded, and the next run keeps those builds and runs the rest. Host builds read the night's clone
 * through git in their own copy of the recipes.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';
import { writeConfigDir, removeConfigDirs } from '../helpers/config-dir.js';
import { makeRecipesRepo, type RecipesRepo } from '../helpers/git.js';
import { runCli } from '../helpers/run-cli.js';
import { readNightState, type NightState } from '../../src/night/state.js';
import { FINISHED_STATUSES } from '../../src/night/layout.js';

const CLI = path.resolve(import.meta.dirname, '../../dist/cli.js');
const DATE = '2031_05_06';

let repo: RecipesRepo | undefined;
let root: string | undefined;
afterEach(async () => {
  await repo?.cleanup();
  if (root) await rm(root, { recursive: true, force: true });
  removeConfigDirs();
});

async function night(builds: number, command: string, slots = 4): Promise<{ dir: string; args: string[] }> {
  repo = await makeRecipesRepo({ files: { 'README.md': 'recipes\n', 'scripts/build.sh': 'echo build\n' } });
  root = await mkdtemp(path.join(os.tmpdir(), 'nightshift-root-'));
  const values = Array.from({ length: builds }, (_, i) => `"${String(i + 1).padStart(3, '0')}"`).join(', ');
  const configDir = writeConfigDir({
    matrix: `recipes: { repo: "${repo.url}", ref: main }
axes:
  n: [${values}]
packages:
  quick:
    executor: host
    command: ["sh", "-c", ${JSON.stringify(command)}]
    artifacts: optional
    timeout: 1m
`,
    schedules: { nightly: `cron: "0 1 * * *"\nroot: "${root}"\nmachines:\n  m1: { slots: ${slots} }\n` },
  });
  return { dir: path.join(root, DATE), args: ['--config', configDir, '--date', DATE] };
}

const finished = (state: NightState | undefined) => state?.builds.filter((b) => FINISHED_STATUSES.includes(b.status)).length ?? 0;

/** Build ids whose end the runner had recorded: it writes `succeeded <id>` to its slot's master log only after night.json took the end. */
async function endsInMasterLogs(dir: string): Promise<string[]> {
  const folder = path.join(dir, 'logs', 'master');
  const ids: string[] = [];
  for (const name of await readdir(folder)) {
    if (!name.startsWith('slot-')) continue;
    for (const match of (await readFile(path.join(folder, name), 'utf8')).matchAll(/ succeeded (\S+) after /g)) ids.push(match[1]!);
  }
  return ids;
}

describe('night.json while a runner writes it, and after the runner is killed', () => {
  it('readers see whole states moving forward; a kill -9 loses no recorded end; the next run resumes', async () => {
    const { dir, args } = await night(150, 'true');
    const file = path.join(dir, 'night.json');
    const runner = execa('node', [CLI, 'run', '--machine', 'm1', ...args], { reject: false });
    let seen = 0;
    let reads = 0;
    // Readers in this process, the writer in another: every read is a whole state, never fewer ends than the one before.
    for (const deadline = Date.now() + 90_000; seen < 60; reads++) {
      if (Date.now() > deadline) throw new Error(`the runner recorded only ${seen} ends in 90 s`);
      const state = await readNightState(file);
      // The first state a run writes has no builds yet; the next one lists them all.
      if (state?.builds.length) {
        expect(state.builds).toHaveLength(150);
        expect(finished(state)).toBeGreaterThanOrEqual(seen);
        seen = finished(state);
      }
      await sleep(10);
    }
    runner.kill('SIGKILL');
    const killed = await runner;
    expect(killed.signal).toBe('SIGKILL');
    expect(reads).toBeGreaterThan(1);

    const recorded = await endsInMasterLogs(dir);
    expect(recorded.length).toBeGreaterThanOrEqual(60 - 4);
    const after = (await readNightState(file))!;
    const byId = new Map(after.builds.map((b) => [b.id, b]));
    for (const id of recorded) expect(byId.get(id)).toMatchObject({ status: 'succeeded', attempt: 1 });
    expect(finished(after)).toBeGreaterThanOrEqual(seen);
    const status = await runCli(['status', '--json', ...args]);
    expect(status.exitCode).toBe(0);
    const shown = JSON.parse(status.stdout) as { builds: { id: string; status: string }[] };
    expect(shown.builds.filter((b) => b.status === 'succeeded').map((b) => b.id)).toEqual(expect.arrayContaining(recorded));

    const resumed = await runCli(['run', '--machine', 'm1', ...args]);
    expect(resumed.exitCode).toBe(0);
    const final = (await readNightState(file))!;
    expect(final.builds.every((b) => b.status === 'succeeded')).toBe(true);
    // What the first runner had recorded was kept, not run again.
    for (const id of recorded) expect(final.builds.find((b) => b.id === id)!.attempt).toBe(1);
    // A night no run drives has all of its state in night.json itself.
    expect(existsSync(`${file}.journal`)).toBe(false);
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual(final);
  }, 240_000);

  it('a host build reads the night clone through git in its own copy of the recipes', async () => {
    const script = [
      'git rev-parse HEAD > "$NIGHTSHIFT_OUT/head.txt"',
      'git describe --always --dirty > "$NIGHTSHIFT_OUT/describe.txt"',
      'test "$(git rev-parse --show-toplevel)" = "$(pwd -P)"',
      'test -f scripts/build.sh',
    ].join(' && ');
    const { dir, args } = await night(2, script, 2);
    const result = await runCli(['run', '--machine', 'm1', ...args]);
    expect(result.exitCode).toBe(0);
    const state = (await readNightState(path.join(dir, 'night.json')))!;
    const commit = state.recipes!.commit;
    for (const build of state.builds) {
      expect(build.status).toBe('succeeded');
      expect((await readFile(path.join(dir, 'artifacts', build.id, 'head.txt'), 'utf8')).trim()).toBe(commit);
      // Clean: the copy holds the clone's files as they are.
      const described = (await readFile(path.join(dir, 'artifacts', build.id, 'describe.txt'), 'utf8')).trim();
      expect(described).not.toMatch(/dirty/);
      expect(commit.startsWith(described)).toBe(true);
      // The clone's .git is named, not copied.
      expect(await readFile(path.join(dir, 'work', build.id, '.git'), 'utf8')).toBe(`gitdir: ${path.join(dir, 'recipes', '.git')}\n`);
    }
    // The clone itself is untouched by the builds' git.
    const { stdout } = await execa('git', ['-C', path.join(dir, 'recipes'), 'status', '--porcelain']);
    expect(stdout).toBe('');
  }, 120_000);
});
