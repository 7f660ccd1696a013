/**
 * A person at the terminal: building by hand, following a running build's log (stopping and starting
 * the follower at will), waiting for builds. Host executor: what is watched here is nightshift itself.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeNightFixture, type NightFixture } from '../helpers/night-fixture.js';
import { runCli } from '../helpers/run-cli.js';
import { writeConfigDir } from '../helpers/config-dir.js';
import { makeRecipesRepo } from '../helpers/git.js';
import { readNightState, type NightState } from '../../src/night/state.js';
import { addDays, nightDate } from '../../src/night/night-date.js';

const CLI = path.resolve(import.meta.dirname, '../../dist/cli.js');

let night: NightFixture;
const args = () => ['--config', night.configDir, '--date', night.date];
const state = async () => JSON.parse(await readFile(path.join(night.root, night.date, 'night.json'), 'utf8')) as NightState;

beforeAll(async () => {
  night = await makeNightFixture({ executor: 'host' });
  // A build that talks for a few seconds, so there is something to follow.
  await night.commit(
    { 'ok.sh': 'for i in 1 2 3 4 5 6 7 8 9 10; do echo "line $i of $NIGHTSHIFT_BUILD_ID"; sleep 0.3; done\necho artifact > "$NIGHTSHIFT_OUT/pkg.whl"\n' },
    'a chatty build',
  );
});
// eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset when the before-hook failed
afterAll(() => night?.cleanup());

describe('nightshift build', () => {
  it('builds every combination of the comma lists, printing the log live', async () => {
    const result = await runCli(['build', '--machine', 'm1', 'opt', '3.11,3.12', 'cpu', ...args()]);
    expect(result.stderr).toBe('');
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toMatch(/built, but wrote nothing[\s\S]*nightshift: succeeded[\s\S]*built, but wrote nothing[\s\S]*nightshift: succeeded/);
    expect(result.stdout).toMatch(/night \d{4}_\d\d_\d\d: 2 succeeded/);
    const builds = (await state()).builds.map((b) => [b.id, b.status]);
    expect(builds).toEqual(
      expect.arrayContaining([
        ['opt_3.11_cpu', 'succeeded'],
        ['opt_3.12_cpu', 'succeeded'],
      ]),
    );
  });

  it('builds values that are not in the matrix, and exits 1 when a build fails', async () => {
    expect((await runCli(['build', '--machine', 'm1', 'opt', '3.14', 'cpu', ...args()])).exitCode).toBe(0);
    expect((await state()).builds.map((b) => b.id)).toContain('opt_3.14_cpu');
    const failed = await runCli(['build', '--machine', 'm1', 'bad', '3.12', 'cpu', ...args()]);
    expect(failed.exitCode).toBe(1);
    expect(failed.stdout).toMatch(/compiler error: something broke/);
  });

  it('says what is missing or wrong in the request', async () => {
    const missing = await runCli(['build', '--machine', 'm1', 'opt', ...args()]);
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toMatch(/say which python, cuda to build: nightshift build opt PYTHONS CUDAS/);
    const unknown = await runCli(['build', '--machine', 'm1', 'otp', '3.12', 'cpu', ...args()]);
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toMatch(/no package "otp".*did you mean "opt"/);
    const unsafe = await runCli(['build', '--machine', 'm1', 'opt', '3.12;rm', 'cpu', ...args()]);
    expect(unsafe.exitCode).toBe(2);
    expect(unsafe.stderr).toMatch(/python "3\.12;rm" cannot be used/);
  });
});

describe('nightshift log', () => {
  it('takes a glob (each log under a header), offers the id meant for a typo, and follows only one', async () => {
    const both = await runCli(['log', 'opt_3.1[12]_cpu', ...args()]);
    expect(both.exitCode).toBe(0);
    expect(both.stdout).toMatch(/^==> opt_3\.11_cpu \(succeeded\) <==\n[\s\S]*nightshift: succeeded[\s\S]*\n==> opt_3\.12_cpu \(succeeded\) <==\n/);
    const typo = await runCli(['log', 'opt_3.12_cpo', ...args()]);
    expect(typo.exitCode).toBe(3);
    expect(typo.stderr).toMatch(/no build opt_3\.12_cpo in night \d{4}_\d\d_\d\d; did you mean "opt_3\.12_cpu"\?/);
    const none = await runCli(['log', 'nope_*', ...args()]);
    expect(none.exitCode).toBe(3);
    expect(none.stderr).toMatch(/no build of night \d{4}_\d\d_\d\d matches nope_\*/);
    const follow = await runCli(['log', 'opt_*', '--follow', ...args()]);
    expect(follow.exitCode).toBe(2);
    expect(follow.stderr).toMatch(/--follow follows one build, and opt_\* matches 3: opt_3\.1\d_cpu/);
  });
});

describe('following and waiting while a night runs', () => {
  it('log --follow can stop and start again; wait returns when the builds end', async () => {
    const runner = execa('node', [CLI, 'run', '--machine', 'm1', '--only', 'ok_*', ...args()], { reject: false });
    const running = async () => (await state()).builds.some((b) => b.id === 'ok_3.11_cpu' && b.status === 'running');
    for (let i = 0; !(await running().catch(() => false)); i++) {
      if (i > 200) throw new Error('the build never started');
      await sleep(50);
    }

    // The build talks for 3 s: a second of waiting runs out first.
    const impatient = await runCli(['wait', 'ok_*', '--timeout', '1s', ...args()]);
    expect(impatient.exitCode, `wait --timeout has its own exit code: ${impatient.stdout} ${impatient.stderr}`).toBe(6);
    expect(impatient.stderr).toMatch(/still waiting for ok_3\.11_cpu.* after 1s/);

    // A first follower sees the start of the log and is stopped; the build is untouched.
    const first = execa('node', [CLI, 'log', 'ok_3.11_cpu', '--follow', ...args()], { reject: false });
    let seen = '';
    first.stdout.on('data', (chunk: Buffer) => void (seen += chunk.toString()));
    for (let i = 0; !seen.includes('line 2 of ok_3.11_cpu'); i++) {
      if (i > 200) throw new Error(`the follower printed nothing: ${seen}`);
      await sleep(50);
    }
    first.kill('SIGINT');
    await first;

    const waiting = runCli(['wait', 'ok_3.11_cpu', 'ok_3.12_cpu', ...args()]);
    const second = await execa('node', [CLI, 'log', 'ok_3.11_cpu', '--follow', ...args()], { reject: false });
    expect(second.exitCode).toBe(0);
    const lines = second.stdout.split('\n');
    expect(lines.filter((l) => /^line \d+ of ok_3\.11_cpu$/.test(l))).toHaveLength(10);
    expect(lines.filter(Boolean).at(-1)).toMatch(/^nightshift: succeeded/);

    const waited = await waiting;
    expect(waited.exitCode).toBe(0);
    expect(waited.stdout).toMatch(/succeeded ok_3\.11_cpu/);
    expect(waited.stdout).toMatch(/succeeded ok_3\.12_cpu/);
    expect((await runner).exitCode).toBe(0);
  });

  it('later nights order builds by the durations history recorded', async () => {
    const dry = await runCli(['run', '--machine', 'm1', '--dry-run', '--force', ...args()]);
    const order = [...dry.stdout.matchAll(/^\s*\d+\s+(\S+)/gm)].map((m) => m[1]);
    // ok_* were estimated at 10m, above slow_ (20m) and bad_/empty_ (30m) ... but took about 3s, so
    // history puts them last, with opt_ which also succeeded; never-successful builds keep their estimates.
    expect(order.slice(0, 3)).toEqual(['bad_3.12_cpu', 'empty_3.12_cpu', 'slow_3.12_cpu']);
    expect(order.slice(3).sort()).toEqual(['ok_3.11_cpu', 'ok_3.12_cpu', 'opt_3.12_cpu']);
  });
});

describe('a recipes repository that cannot be cloned', () => {
  it('exits 4 naming the repository, and the night master log explains it', async () => {
    const broken = await makeNightFixture({ executor: 'host' });
    try {
      const matrixFile = path.join(broken.configDir, 'matrix.yaml');
      const missing = `${broken.recipesUrl}-moved`;
      await writeFile(matrixFile, (await readFile(matrixFile, 'utf8')).replace(broken.recipesUrl, missing));
      const result = await runCli(['run', '--config', broken.configDir, '--machine', 'm1', '--date', broken.date]);
      expect(result.exitCode).toBe(4);
      expect(result.stderr).toContain(missing);
      const master = await readFile(path.join(broken.root, broken.date, 'logs', 'master', 'run.log'), 'utf8');
      expect(master).toMatch(/recipes: .*-moved/);
      // Nothing ran; every build waits, pending, for a run that can clone.
      const builds = (JSON.parse(await readFile(path.join(broken.root, broken.date, 'night.json'), 'utf8')) as NightState).builds;
      expect(new Set(builds.map((b) => b.status))).toEqual(new Set(['pending']));
      expect(existsSync(path.join(broken.root, broken.date, 'night.lock'))).toBe(false);
    } finally {
      await broken.cleanup();
    }
  });
});

describe('disk space around a night', () => {
  it('prunes nights older than keep_days at the end of a run', async () => {
    const pruned = await makeNightFixture({ executor: 'host', scheduleExtra: 'keep_days: 2\n' });
    try {
      // Today by the real clock: prune never counts ages from a later day (the fixture's own date is far ahead).
      const today = nightDate(new Date(), 'UTC');
      const daysBefore = (n: number) => addDays(today, -n);
      // Nights of earlier runs (a run makes logs/master/ first): the root holds only nightshift nights, so the run marks it.
      for (const old of [daysBefore(1), daysBefore(2), daysBefore(5)]) await mkdir(path.join(pruned.root, old, 'logs', 'master'), { recursive: true });
      const result = await runCli(['run', '--only', 'opt_*', '--config', pruned.configDir, '--machine', 'm1', '--date', today]);
      expect(result.exitCode).toBe(0);
      expect(result.stdout).toMatch(new RegExp(`pruned night\\(s\\) older than 2 days: ${daysBefore(5)}, ${daysBefore(2)}`));
      expect((await readdir(pruned.root)).filter((name) => /^\d{4}_/.test(name)).sort()).toEqual([daysBefore(1), today]);
    } finally {
      await pruned.cleanup();
    }
  });

  it('refuses to start a night when min_free cannot be had, and runs nothing', async () => {
    const full = await makeNightFixture({ executor: 'host', scheduleExtra: 'min_free: 900t\n' });
    try {
      const result = await runCli(['run', '--config', full.configDir, '--machine', 'm1', '--date', full.date]);
      expect(result.exitCode).toBe(4);
      expect(result.stderr).toMatch(/free/);
      expect(existsSync(path.join(full.root, full.date, 'night.json'))).toBe(false);
    } finally {
      await full.cleanup();
    }
  });
});

describe('--json for scripts: build and wait', () => {
  // A night of its own: the nights above stay as their tests left them.
  const date = () => addDays(night.date, 1);
  const jsonArgs = () => ['--config', night.configDir, '--date', date()];
  // Through its journal: what a run wrote a moment ago is there.
  const records = async () => (await readNightState(path.join(night.root, date(), 'night.json')))!;
  interface BuildJson {
    id: string;
    status: string;
    duration_s: number | null;
    exit_code: number | null;
    reason: string | null;
    log: string | null;
    artifacts: { file: string; size: number; sha256: string }[];
    manual: boolean;
  }
  /** The fields night.json has for a build, as --json prints them. */
  const fromNightJson = (b: NightState['builds'][number]) => ({
    id: b.id,
    status: b.status,
    duration_s: b.duration_s ?? null,
    exit_code: b.exit_code ?? null,
    reason: b.reason ?? null,
    log: b.log ? path.join(night.root, date(), b.log) : null,
    artifacts: b.artifacts ?? [],
  });

  it('build --json: the live log on stderr, the builds as night.json records them on stdout', async () => {
    const built = await runCli(['build', '--machine', 'm1', 'ok', '3.12', 'cpu', '--json', ...jsonArgs()]);
    expect(built.exitCode).toBe(0);
    const answer = JSON.parse(built.stdout) as { date: string; machine: string; night: string; builds: BuildJson[]; upload: unknown };
    expect(answer).toMatchObject({ date: date(), machine: 'm1', night: path.join(night.root, date()), upload: null });
    const recorded = (await records()).builds.find((b) => b.id === 'ok_3.12_cpu')!;
    expect(answer.builds).toEqual([expect.objectContaining(fromNightJson(recorded))]);
    expect(answer.builds[0]!.artifacts).toEqual([expect.objectContaining({ file: 'pkg.whl', size: 'artifact\n'.length })]);
    expect(await readFile(answer.builds[0]!.log!, 'utf8')).toMatch(/line 10 of ok_3\.12_cpu/);
    // Whole lines, in order, then the summary.
    expect(built.stderr).toMatch(/^line 1 of ok_3\.12_cpu\n[\s\S]*^line 10 of ok_3\.12_cpu\n[\s\S]*^night \d{4}_\d\d_\d\d: 1 succeeded$/m);

    const failed = await runCli(['build', '--machine', 'm1', 'bad', '3.12', 'cpu', '--json', ...jsonArgs()]);
    expect(failed.exitCode).toBe(1);
    const bad = (JSON.parse(failed.stdout) as { builds: BuildJson[] }).builds;
    expect(bad).toEqual([expect.objectContaining({ id: 'bad_3.12_cpu', status: 'failed', exit_code: 3, artifacts: [] })]);
    expect(failed.stderr).toMatch(/compiler error: something broke/);
  });

  it('wait --json: one object at the end, with how the waiting ended; exit codes as without it', async () => {
    // The chatty build talks for 3s: a wait of 1s runs out first.
    const chatty = runCli(['build', '--machine', 'm1', 'ok', '3.11', 'cpu', ...jsonArgs()]);
    for (let i = 0; !(await records().then((s) => s.builds.some((b) => b.id === 'ok_3.11_cpu' && b.status === 'running'))); i++) {
      if (i > 200) throw new Error('the build never started');
      await sleep(50);
    }
    const impatient = await runCli(['wait', 'ok_3.11_cpu', '--timeout', '1s', '--json', ...jsonArgs()]);
    expect(impatient.exitCode, impatient.stderr).toBe(6);
    expect(JSON.parse(impatient.stdout)).toMatchObject({ ended: 'timeout', builds: [{ id: 'ok_3.11_cpu', status: 'running', duration_s: null }] });
    expect(impatient.stderr).toMatch(/still waiting for ok_3\.11_cpu after 1s/);
    expect((await chatty).exitCode).toBe(0);

    const all = await runCli(['wait', '--json', ...jsonArgs()]);
    expect(all.exitCode).toBe(1); // bad failed
    const answer = JSON.parse(all.stdout) as { date: string; machine: string; ended: string; builds: BuildJson[] };
    expect(answer).toMatchObject({ date: date(), machine: 'm1', ended: 'finished' });
    expect(answer.builds).toEqual((await records()).builds.map((b) => expect.objectContaining(fromNightJson(b)) as unknown));
    expect(answer.builds.map((b) => [b.id, b.status]).sort()).toEqual([
      ['bad_3.12_cpu', 'failed'],
      ['ok_3.11_cpu', 'succeeded'],
      ['ok_3.12_cpu', 'succeeded'],
    ]);
    expect(all.stderr).toMatch(/^succeeded ok_3\.12_cpu after /m);

    const good = await runCli(['wait', 'ok_3.12_cpu', '--json', ...jsonArgs()]);
    expect(good.exitCode).toBe(0);
    expect((JSON.parse(good.stdout) as { builds: BuildJson[] }).builds.map((b) => [b.id, b.status])).toEqual([['ok_3.12_cpu', 'succeeded']]);
  });
});

describe('a hand build of a value matrix.yaml does not list', () => {
  it('says which attribute a template needs and how to give it; --set gives it', async () => {
    const repo = await makeRecipesRepo({ files: { 'build.sh': 'echo "building for CUDA $CUDA_VERSION"\necho wheel > "$NIGHTSHIFT_OUT/w.whl"\n' } });
    const root = await mkdtemp(path.join(os.tmpdir(), 'nightshift-root-'));
    try {
      const configDir = writeConfigDir({
        matrix:
          `recipes: { repo: "${repo.url}", ref: main }\naxes:\n  python: ["3.12"]\n  cuda:\n    - { value: cu126, version: "12.6" }\n` +
          `packages:\n  wheel:\n    executor: host\n    command: ["sh", "-c", "exec sh \\"$NIGHTSHIFT_RECIPES/build.sh\\""]\n    timeout: 1m\nenv:\n  CUDA_VERSION: "{cuda.version}"\n`,
        schedules: { nightly: `cron: "0 1 * * *"\nroot: "${root}"\nmachines:\n  m1: {}\n` },
      });
      const at = ['--config', configDir, '--date', '2031-03-04'];
      const refused = await runCli(['build', '--machine', 'm1', 'wheel', '3.12', 'cu130', ...at]);
      expect(refused.exitCode).toBe(2);
      expect(refused.stderr).toMatch(
        /wheel_3\.12_cu130: \{cuda\.version\} cannot be filled in: cuda cu130 is not in .*matrix\.yaml, so it has no attribute version; give it with --set cuda\.version=VALUE/,
      );
      const built = await runCli(['build', '--machine', 'm1', 'wheel', '3.12', 'cu130', '--set', 'cuda.version=13.0', ...at]);
      expect(built.exitCode, built.stderr).toBe(0);
      expect(built.stdout).toMatch(/building for CUDA 13\.0/);
      // night.json keeps what was given, so the build can be entered again later as it ran.
      const record = (await readNightState(path.join(root, '2031_03_04', 'night.json')))!.builds.find((b) => b.id === 'wheel_3.12_cu130')!;
      expect(record.attributes).toEqual({ cuda: { version: '13.0' } });
      const shell = await runCli(['shell', 'wheel_3.12_cu130', '--command', 'echo "CUDA=$CUDA_VERSION"', ...at]);
      expect(shell.exitCode, shell.stderr).toBe(0);
      expect(shell.stdout).toBe('CUDA=13.0\n');
      const listed = await runCli(['build', '--machine', 'm1', 'wheel', '3.12', 'cu126', '--set', 'cuda.version=13.0', ...at]);
      expect(listed.exitCode).toBe(2);
      expect(listed.stderr).toMatch(/every cuda asked for \(cu126\) is in matrix\.yaml with its own attributes/);
    } finally {
      await repo.cleanup();
      await rm(root, { recursive: true, force: true });
    }
  });
});
