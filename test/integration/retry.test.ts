/**
 * Retrying transient failures on purpose: a package's `retry: { attempts, on }` runs a build again
 * when its exit code or its log says so, and only then. Every attempt's log is kept and night.json
 * lists the attempts. Real host builds, the real CLI.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeConfigDirs, writeConfigDir } from '../helpers/config-dir.js';
import { makeRecipesRepo, type RecipesRepo } from '../helpers/git.js';
import { runCli } from '../helpers/run-cli.js';
import type { NightState } from '../../src/night/state.js';

const DATE = '2031_05_06';

describe('retry of transient failures', () => {
  let repo: RecipesRepo;
  let root: string;
  let configDir: string;
  let run: Awaited<ReturnType<typeof runCli>>;
  const cli = (...args: string[]) => runCli(['--machine', 'm1', ...args, '--config', configDir, '--date', DATE]);
  const dir = () => path.join(root, DATE);
  const state = async () => JSON.parse(await readFile(path.join(dir(), 'night.json'), 'utf8')) as NightState;
  const build = async (id: string) => (await state()).builds.find((b) => b.id === id)!;

  beforeAll(async () => {
    repo = await makeRecipesRepo({
      files: {
        // Fails with a network reset on its first run only (its count lives outside the build's folders).
        'flaky.sh': [
          'n=$(cat "$COUNT" 2>/dev/null || echo 0); n=$((n + 1)); echo $n > "$COUNT"',
          'echo "fetching sources (run $n)"',
          'if [ $n -lt 2 ]; then echo "curl: (56) Recv failure: Connection reset by peer"; exit 56; fi',
          'echo wheel > "$NIGHTSHIFT_OUT/flaky.whl"',
        ].join('\n'),
        'oom.sh': 'echo "Killed"\nexit 137\n',
        'broken.sh': 'echo "error: Connection refused is not what the config names"\nexit 2\n',
      },
    });
    root = await mkdtemp(path.join(os.tmpdir(), 'nightshift-retry-'));
    const pkg = (name: string, retry: string) =>
      `  ${name}:\n    executor: host\n    command: ["sh", "-c", "exec sh \\"$NIGHTSHIFT_RECIPES/${name === 'plain' ? 'flaky' : name}.sh\\""]\n    timeout: 1m\n${retry}`;
    const matrix = `recipes: { repo: "${repo.url}", ref: main }
axes:
  python: ["3.12"]
packages:
${pkg('flaky', '    retry: { attempts: 3, on: ["Connection reset by peer"] }\n')}
${pkg('oom', '    retry: { attempts: 2, on: [137, "Connection reset"] }\n')}
${pkg('broken', '    retry: { attempts: 3, on: [137, "Connection reset"] }\n')}
${pkg('plain', '')}
env:
  COUNT: "${root}/{id}.count"
`;
    configDir = writeConfigDir({ matrix, schedules: { nightly: `cron: "0 1 * * *"\nroot: "${root}"\nmachines:\n  m1: { slots: 2 }\n` } });
    run = await cli('run');
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset when the before-hook failed
    await repo?.cleanup();
    removeConfigDirs();
  });

  it('a failure whose log matches a pattern runs again and succeeds; every attempt is in night.json with its log', async () => {
    expect(run.stderr).toBe('');
    const flaky = await build('flaky_3.12');
    expect(flaky).toMatchObject({ status: 'succeeded', exit_code: 0, log: 'logs/succeeded/flaky_3.12.log', attempt: 2 });
    expect(flaky.attempts).toMatchObject([
      { attempt: 1, status: 'failed', exit_code: 56, reason: 'exit code 56', log: 'logs/failed/flaky_3.12.attempt-1.log' },
      { attempt: 2, status: 'succeeded', exit_code: 0, log: 'logs/succeeded/flaky_3.12.log' },
    ]);
    const first = await readFile(path.join(dir(), 'logs', 'failed', 'flaky_3.12.attempt-1.log'), 'utf8');
    expect(first).toMatch(/fetching sources \(run 1\)[^]*Connection reset by peer/);
    expect(first.trimEnd().split('\n').at(-1)).toMatch(
      /^nightshift: failed · exit code 56 · duration \d+s · attempt 1 of 3, runs again: log matched \/Connection reset by peer\/$/,
    );
    const master =
      (await readFile(path.join(dir(), 'logs', 'master', 'slot-1.log'), 'utf8')) + (await readFile(path.join(dir(), 'logs', 'master', 'slot-2.log'), 'utf8').catch(() => ''));
    expect(master).toMatch(/attempt 1 of flaky_3\.12 failed \(exit code 56\); runs again: log matched/);
  });

  it('`nightshift log ID` shows the latest attempt', async () => {
    const log = await cli('log', 'flaky_3.12');
    expect(log.stdout).toMatch(/attempt 2 of 3/);
    expect(log.stdout).toMatch(/fetching sources \(run 2\)/);
    expect(log.stdout).not.toMatch(/run 1/);
  });

  it('`nightshift log ID --attempt N` shows an earlier attempt; one that was not kept is named with those that were', async () => {
    const first = await cli('log', 'flaky_3.12', '--attempt', '1');
    expect(first.exitCode, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/fetching sources \(run 1\)[^]*Connection reset by peer/);
    expect(first.stdout).not.toMatch(/run 2/);
    const missing = await cli('log', 'flaky_3.12', '--attempt', '2');
    expect(missing.exitCode).toBe(3);
    expect(missing.stderr).toMatch(/flaky_3\.12 has no log of attempt 2: its earlier attempts' logs are 1; the latest is nightshift log flaky_3\.12/);
    expect((await cli('log', 'flaky_3.12', '--attempt', 'first')).exitCode).toBe(2);
    expect((await cli('log', 'flaky_3.12', '--attempt', '1', '--follow')).stderr).toMatch(/--attempt prints an earlier attempt/);
  });

  it('an exit code named in `on` runs again up to `attempts`, then fails with every log kept', async () => {
    const oom = await build('oom_3.12');
    expect(oom).toMatchObject({ status: 'failed', exit_code: 137, log: 'logs/failed/oom_3.12.log' });
    expect(oom.attempts?.map((a) => [a.attempt, a.exit_code, a.log])).toEqual([
      [1, 137, 'logs/failed/oom_3.12.attempt-1.log'],
      [2, 137, 'logs/failed/oom_3.12.log'],
    ]);
    expect(existsSync(path.join(dir(), 'logs', 'failed', 'oom_3.12.attempt-2.log'))).toBe(false);
  });

  it('nothing is retried that the config does not name', async () => {
    const broken = await build('broken_3.12');
    expect(broken).toMatchObject({ status: 'failed', exit_code: 2, attempt: 1 });
    expect(broken.attempts).toBeUndefined();
    // The same flaky script without `retry`: one run, its failure stands.
    const plain = await build('plain_3.12');
    expect(plain).toMatchObject({ status: 'failed', exit_code: 56, attempt: 1 });
    expect(plain.attempts).toBeUndefined();
    const logs = await readdir(path.join(dir(), 'logs', 'failed'));
    expect(logs.filter((name) => name.includes('.attempt-')).sort()).toEqual(['flaky_3.12.attempt-1.log', 'oom_3.12.attempt-1.log']);
  });

  it('a bad log pattern or attempts count is a configuration error with file:line', async () => {
    const bad = writeConfigDir({
      matrix: `recipes: { repo: "${repo.url}", ref: main }
axes:
  python: ["3.12"]
packages:
  flaky:
    executor: host
    command: ["sh", "flaky.sh"]
    retry:
      attempts: 1
      on: [137, "(unclosed"]
`,
      schedules: { nightly: `cron: "0 1 * * *"\nroot: "${root}"\nmachines:\n  m1: { slots: 1 }\n` },
    });
    const result = await runCli(['validate', '--config', bad]);
    expect(result.exitCode).toBe(2);
    expect(result.stderr + result.stdout).toMatch(/matrix\.yaml:9:\d+ packages\.flaky\.retry\.attempts: attempts counts the first run too: 2 or more/);
    expect(result.stderr + result.stdout).toMatch(/matrix\.yaml:10:\d+ packages\.flaky\.retry\.on\[1\]: not a regular expression: .*\(unclosed/);
  });
});
