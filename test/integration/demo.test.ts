/**
 * The README's first command, `npm run demo`: the demo script as it is, on a copy of examples/demo (so
 * the checkout's own examples/demo/work is left alone), with the built CLI. Host builds only: no Docker,
 * S3, Redis or SMTP.
 */
import { cp, mkdtemp, rm, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';

const repo = path.resolve(import.meta.dirname, '../..');
let folder: string | undefined;

afterAll(async () => {
  if (folder) await rm(folder, { recursive: true, force: true });
});

describe('the demo night', () => {
  it('validates, plans, runs seven host builds (one fails on purpose), shows status, the log and the report', async () => {
    folder = await mkdtemp(path.join(os.tmpdir(), 'nightshift-demo-'));
    const demo = path.join(folder, 'examples', 'demo');
    const source = path.join(repo, 'examples', 'demo');
    await cp(source, demo, { recursive: true, filter: (file) => path.relative(source, file).split(path.sep)[0] !== 'work' });
    // The script runs <its folder>/../../dist/cli.js: the checkout's build.
    await symlink(path.join(repo, 'dist'), path.join(folder, 'dist'));
    // Without the recipes' pauses, which are there for a person watching.
    const env = { ...process.env, NIGHTSHIFT_MACHINE: '', NIGHTSHIFT_ROOT: '', NIGHTSHIFT_CONFIG: '', NO_COLOR: '1', DEMO_PAUSE: '0' };
    const result = await execa('bash', [path.join(demo, 'run-demo.sh')], { reject: false, env, timeout: 120_000 });

    expect(result.exitCode, result.stderr).toBe(0);
    for (const step of ['validate', 'plan', 'run', 'status', 'log wheel_3.13_cu126', 'report']) expect(result.stdout).toContain(`== nightshift ${step}`);
    expect(result.stdout).toMatch(/^night \d{4}_\d\d_\d\d: 6 succeeded, 1 failed$/m);
    expect(result.stdout).toMatch(/^wheel_3\.13_cu126\s+failed\s+\S+\s+2\s+exit code 2$/m);
    expect(result.stdout).toContain('error: nvcc does not support this compiler yet');
    expect(result.stdout).toMatch(/^nightshift \d{4}_\d\d_\d\d: 1 of 7 builds failed$/m);
    expect(result.stdout).toContain(`The night folder is ${path.join(demo, 'work', 'nights')}`);
  });
});
