/**
 * Bad input outside the config files' shape: a --root that is a file, broken --only/--skip globs — each
 * a usage or configuration error (exit 2) with what to do, never a stack trace (70). Recipes refs are
 * checked against git itself in test/integration/git-ref.test.ts.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { globProblem } from '../../src/matrix/select.js';
import { runCli } from '../helpers/run-cli.js';

const repo = path.resolve(import.meta.dirname, '../..');
let tmp: string;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'nightshift-bad-input-'));
});
afterAll(() => rm(tmp, { recursive: true, force: true }));

describe('--root', () => {
  it('naming a file is a usage error for every command that reads the night, not an ENOTDIR crash', async () => {
    const file = path.join(tmp, 'a-file');
    await writeFile(file, 'not a folder');
    for (const command of ['status', 'run', 'prune', 'upload', 'wait']) {
      const result = await runCli(['--machine', 'linux-0', command, '--config', repo, '--root', file]);
      expect(result.exitCode, `${command}: ${result.stderr}`).toBe(2);
      expect(result.stderr).toMatch(/--root .*a-file is a file, not a folder; .*give a folder/);
      expect(result.stderr).not.toMatch(/ENOTDIR|\n\s+at /);
    }
  });

  it('under a file is a usage error too', async () => {
    const result = await runCli(['status', '--config', repo, '--root', path.join(tmp, 'a-file', 'nights')]);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/lies under a file, not a folder/);
  });
});

describe('--only and --skip globs', () => {
  it('a broken glob is a usage error (2), a good one that matches nothing is "nothing selected" (3)', async () => {
    const broken = await runCli(['plan', '--config', repo, '--all-machines', '--only', 'manywheel_3.1[23']);
    expect(broken.exitCode).toBe(2);
    expect(broken.stderr).toMatch(/--only "manywheel_3\.1\[23" is not a usable glob: missing closing: "\]"/);
    const slash = await runCli(['run', '--config', repo, '--machine', 'linux-0', '--root', tmp, '--dry-run', '--skip', 'manywheel/3.12']);
    expect(slash.exitCode).toBe(2);
    expect(slash.stderr).toMatch(/--skip "manywheel\/3\.12" is not a usable glob: "\/" never appears in a build id/);
    const none = await runCli(['plan', '--config', repo, '--all-machines', '--only', 'conda_*']);
    expect(none.exitCode).toBe(3);
  });

  it('accepts every glob form the README shows', () => {
    for (const glob of ['manywheel_3.1{2,3}_cu12*', '*_cu126', 'libtorch_*_cxx11-abi', 'manywheel_3.1[0-3]_cpu', '!conda_*', '?anywheel_*']) {
      expect(globProblem(glob), glob).toBeUndefined();
    }
    expect(globProblem('manywheel_{3.12')).toMatch(/missing closing: "\}"/);
  });
});
