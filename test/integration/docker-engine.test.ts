// Proves the real Docker engine behaves the way nightshift's docker executor relies on:
// exit codes, split stdout/stderr, /out bind mounts, `docker rm -f` by name killing a
// foreground `docker run`, and read-only /recipes. Fails (never skips) without Docker.
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TEST_IMAGE, containersWithLabel, docker, dockerAvailable, removeContainersWithLabel } from '../helpers/docker.js';

const labels: string[] = [];
const dirs: string[] = [];

function uniqueLabel(): string {
  const label = `nightshift.test=${randomUUID()}`;
  labels.push(label);
  return label;
}

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'nightshift-docker-'));
  dirs.push(dir);
  return dir;
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('docker engine (integration)', () => {
  // Checked once, but awaited before EACH test so every test is reported as failed
  // (not skipped, as a failing beforeAll would show it) when Docker is missing.
  let ready: Promise<void> | undefined;
  beforeEach(async () => {
    await (ready ??= dockerAvailable());
  });

  afterEach(async () => {
    for (const label of labels.splice(0)) await removeContainersWithLabel(label);
    for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
  });

  it('runs a build: exit code, stdout and stderr apart, /out file on the host', async () => {
    const label = uniqueLabel();
    const out = await tempDir();
    const r = await docker([
      'run',
      '--rm',
      '--init',
      '--network',
      'none',
      '--label',
      label,
      '-v',
      `${out}:/out`,
      TEST_IMAGE,
      'sh',
      '-c',
      'echo hello; echo err >&2; echo artifact > /out/a.whl; exit 3',
    ]);
    expect(r.exitCode).toBe(3);
    expect(r.stdout).toBe('hello');
    expect(r.stderr).toBe('err');
    expect(await readdir(out)).toEqual(['a.whl']);
    expect(await readFile(join(out, 'a.whl'), 'utf8')).toBe('artifact\n');
    // --rm: nothing left behind
    await waitFor('the --rm container to go', async () => (await containersWithLabel(label)).length === 0);
  });

  it('docker rm -f <name> kills a running build and its foreground docker run returns', async () => {
    const label = uniqueLabel();
    const name = `nightshift-test-${randomUUID().slice(0, 12)}`;
    const started = Date.now();
    // Like the executor: a foreground client. Killing it would NOT stop the container.
    const client = execa('docker', ['run', '--rm', '--init', '--network', 'none', '--name', name, '--label', label, TEST_IMAGE, 'sleep', '300'], {
      reject: false,
      stdin: 'ignore',
    });
    try {
      await waitFor('the container to run', async () => {
        const r = await docker(['inspect', '--format', '{{.State.Running}}', name]);
        return r.stdout === 'true';
      });
      expect(await containersWithLabel(label)).toEqual([name]);

      const rm = await docker(['rm', '-f', name]);
      expect(rm.exitCode).toBe(0);

      const result = await client;
      expect(result.exitCode).not.toBe(0);
      expect(Date.now() - started).toBeLessThan(60_000);
      expect(await containersWithLabel(label)).toEqual([]);
    } finally {
      await removeContainersWithLabel(label);
      client.kill();
    }
  });

  it('a read-only /recipes mount cannot be written from inside', async () => {
    const label = uniqueLabel();
    const recipes = await tempDir();
    await writeFile(join(recipes, 'build.sh'), 'recipe\n');
    const r = await docker([
      'run',
      '--rm',
      '--init',
      '--network',
      'none',
      '--label',
      label,
      '-v',
      `${recipes}:/recipes:ro`,
      TEST_IMAGE,
      'sh',
      '-c',
      'cat /recipes/build.sh && echo tampered > /recipes/new.txt',
    ]);
    expect(r.exitCode).not.toBe(0);
    expect(r.stdout).toBe('recipe'); // readable
    expect(r.stderr).toMatch(/read-only/i);
    expect(await readdir(recipes)).toEqual(['build.sh']);
  });
});
