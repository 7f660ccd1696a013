import { createHash, randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeStaleTemps, sha256File } from '../../src/files.js';

describe('sha256File', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'nightshift-files-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  // Sizes around the 1 MiB read buffer: empty, smaller, exactly one, several with a partial last read.
  it.each([0, 1000, 1024 * 1024, 2.5 * 1024 * 1024 + 7])('hashes a file of %i bytes like hashing its bytes at once', async (size) => {
    const bytes = randomBytes(size);
    const file = path.join(dir, `f${size}`);
    await writeFile(file, bytes);
    expect(await sha256File(file)).toBe(createHash('sha256').update(bytes).digest('hex'));
  });

  it('rejects for a missing file', async () => {
    await expect(sha256File(path.join(dir, 'missing'))).rejects.toThrow(/ENOENT/);
  });
});

describe('removeStaleTemps', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'nightshift-temps-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('removes the temporary files of writers that are gone, and nothing else', async () => {
    const gone = spawnSync('true').pid; // exited: its pid is free
    const names = {
      dead: `.night.json.${gone}.0a1b2c3d.tmp`,
      mine: `.night.json.${process.pid}.0a1b2c3d.tmp`,
      otherFile: `.history.json.${gone}.0a1b2c3d.tmp`,
      notOurs: `.night.json.${gone}.tmp`,
    };
    for (const name of [...Object.values(names), 'night.json']) await writeFile(path.join(dir, name), '{}');
    expect(await removeStaleTemps(dir, 'night.json')).toEqual([names.dead]);
    expect((await readdir(dir)).sort()).toEqual([names.mine, names.otherFile, names.notOurs, 'night.json'].sort());
  });

  it('leaves a folder that does not exist alone', async () => {
    expect(await removeStaleTemps(path.join(dir, 'missing'), 'night.json')).toEqual([]);
  });
});
