/**
 * Output faults: `nightshift run | head -1` closes the runner's stdout after one line. The runner must
 * drop its output and finish the night as if nothing happened: every build final, the lock released,
 * no env-file folder left in TMPDIR. A real pipe, the real binary, real containers.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { dockerAvailable, removeContainersWithLabel } from '../helpers/docker.js';
import { makeNightFixture, type NightFixture } from '../helpers/night-fixture.js';
import type { NightState } from '../../src/night/state.js';
import { FINISHED_STATUSES } from '../../src/night/layout.js';

const CLI = path.resolve(import.meta.dirname, '../../dist/cli.js');

describe('output faults', () => {
  let night: NightFixture;
  let tmp: string;

  beforeEach(async () => {
    await dockerAvailable();
    night = await makeNightFixture({ executor: 'docker', slots: 2 });
    tmp = await mkdtemp(path.join(os.tmpdir(), 'nightshift-private-tmp-'));
  });
  afterEach(async () => {
    await removeContainersWithLabel(`nightshift.night=${night.date}`);
    await night.cleanup();
    await rm(tmp, { recursive: true, force: true });
  });

  it('a reader that closes the pipe after the first line (run | head -1) does not stop the night', async () => {
    const child = execa('node', [CLI, 'run', '--only', 'ok_*', '--only', 'bad_*', '--only', 'empty_*', '--config', night.configDir, '--machine', 'm1', '--date', night.date], {
      env: { TMPDIR: tmp },
      stdout: 'pipe',
      stderr: 'pipe',
      buffer: { stdout: false, stderr: true },
      reject: false,
    });
    // Like head -1: read one line, then close our end of the pipe.
    const first = await new Promise<string>((resolve, reject) => {
      let text = '';
      child.stdout.on('data', (chunk: Buffer) => {
        text += chunk.toString('utf8');
        if (text.includes('\n')) {
          child.stdout.destroy();
          resolve(text.slice(0, text.indexOf('\n')));
        }
      });
      child.stdout.once('error', reject);
    });
    expect(first).not.toBe('');
    const result = await child;

    // The night ended normally: exit 1 because bad_ and empty_ fail, not a crash.
    expect(result.stderr).not.toMatch(/EPIPE|internal error/);
    expect(result.exitCode).toBe(1);
    const dir = path.join(night.root, night.date);
    const state = JSON.parse(await readFile(path.join(dir, 'night.json'), 'utf8')) as NightState;
    expect(state.builds.map((b) => [b.id, b.status]).sort()).toEqual([
      ['bad_3.12_cpu', 'failed'],
      ['empty_3.12_cpu', 'failed'],
      ['ok_3.11_cpu', 'succeeded'],
      ['ok_3.12_cpu', 'succeeded'],
    ]);
    expect(state.builds.every((b) => FINISHED_STATUSES.includes(b.status))).toBe(true);
    expect(state.finished_at).toBeDefined();
    expect(existsSync(path.join(dir, 'night.lock'))).toBe(false);
    expect(await readdir(path.join(dir, 'logs', 'running'))).toEqual([]);
    expect((await readdir(tmp)).filter((name) => name.startsWith('nightshift-env-'))).toEqual([]);
  });
});
