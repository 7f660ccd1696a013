/** Opening a build's file for publishing: never through a link, never outside its folder, never other bytes. */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ContentChangedError, openInside, sha256Of, UnsafeFileError, verifiedStream } from '../../src/store/local-file.js';

const sha256 = (data: string) => createHash('sha256').update(data).digest('hex');
let work: string;
let dir: string;
beforeEach(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'nightshift-local-file-'));
  dir = path.join(work, 'artifacts', 'pkg_3.12');
  await mkdir(path.join(dir, 'sub'), { recursive: true });
  await writeFile(path.join(work, 'secret'), 'host secret\n', { mode: 0o600 });
  await writeFile(path.join(dir, 'sub', 'x.whl'), 'wheel\n');
});
afterEach(() => rm(work, { recursive: true, force: true }));

const refusal = (relative: string) =>
  openInside(dir, relative).then(
    async (file) => (await file.handle.close(), expect.fail(`${relative} was opened`)),
    (error: unknown) => error as Error,
  );

describe('openInside', () => {
  it('opens a regular file inside the folder and hashes it through the descriptor', async () => {
    const file = await openInside(dir, 'sub/x.whl');
    try {
      expect(file.info.isFile()).toBe(true);
      expect(await sha256Of(file)).toBe(sha256('wheel\n'));
    } finally {
      await file.handle.close();
    }
  });

  it('refuses a link, a folder on the way that is a link, a pipe, and paths that leave the folder', async () => {
    await symlink(path.join(work, 'secret'), path.join(dir, 'link.whl'));
    await symlink(work, path.join(dir, 'up'));
    execFileSync('mkfifo', [path.join(dir, 'pipe.whl')]);
    expect(await refusal('link.whl')).toMatchObject({ name: 'UnsafeFile', message: 'link.whl is a symbolic link, not the file the build wrote' });
    expect(await refusal('up/secret')).toMatchObject({ name: 'UnsafeFile', message: 'up/secret: up is a symbolic link' });
    expect(await refusal('pipe.whl')).toMatchObject({ name: 'UnsafeFile', message: 'pipe.whl is not a regular file' });
    for (const bad of ['../../secret', '/etc/passwd', 'sub//x.whl']) expect(await refusal(bad)).toBeInstanceOf(UnsafeFileError);
  });
});

describe('verifiedStream', () => {
  const read = async (stream: NodeJS.ReadableStream) => {
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString();
  };

  it('hands on the bytes that hash as expected', async () => {
    const file = await openInside(dir, 'sub/x.whl');
    try {
      expect(await read(verifiedStream(file, sha256('wheel\n')))).toBe('wheel\n');
    } finally {
      await file.handle.close();
    }
  });

  it('fails at the end, before it ends cleanly, when the bytes are not those recorded', async () => {
    const file = await openInside(dir, 'sub/x.whl');
    try {
      const error = await read(verifiedStream(file, sha256('other\n'))).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ContentChangedError);
      expect(error).toMatchObject({ recorded: sha256('other\n'), now: sha256('wheel\n'), transient: false });
    } finally {
      await file.handle.close();
    }
  });
});
