/**
 * A local file opened once for publishing. Everything a destination sends is read through this one
 * descriptor, so what is hashed is what is sent: a name swapped for a link or for other content
 * after the build (a host build can leave a process behind) cannot slip another file in.
 */
import { createHash } from 'node:crypto';
import { constants, type Stats } from 'node:fs';
import { lstat, open, realpath, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';

const MiB = 1024 * 1024;

export interface LocalFile {
  /** The name it was opened by, for messages and for a hard link (checked against `info`). */
  path: string;
  handle: FileHandle;
  /** fstat of the open descriptor. */
  info: Stats;
}

/** The file is not what may be published (a link, not a regular file, outside its folder). */
export class UnsafeFileError extends Error {
  override name = 'UnsafeFile';
}

/**
 * The file's bytes are not those expected: it changed after its sha256 was recorded. `recorded` and
 * `now` are hex sha256 (`now` undefined when the size alone already differed).
 */
export class ContentChangedError extends Error {
  override name = 'ContentChanged';
  /** Waiting does not bring the recorded bytes back: never retried. */
  readonly transient = false;
  constructor(
    readonly file: string,
    readonly recorded: string,
    readonly now: string,
  ) {
    super(`${file} changed: sha256 ${recorded} expected, ${now} read`);
  }
}

// O_NONBLOCK: a FIFO put in a file's place must not hang the upload on open.
const READ_NOFOLLOW = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

/**
 * Opens `relative` (a "/"-separated path as night.json records it) inside `dir` without following
 * links: neither the file nor any folder between `dir` and it may be a link, and the file must be a
 * regular file that resolves inside `dir`. Throws UnsafeFileError saying what it found instead.
 */
export async function openInside(dir: string, relative: string, label = relative): Promise<LocalFile> {
  const segments = relative.split('/');
  if (path.isAbsolute(relative) || segments.some((s) => s === '' || s === '.' || s === '..')) throw new UnsafeFileError(`${label} is not a path inside its folder`);
  const top = await lstat(dir).catch(() => undefined);
  if (!top?.isDirectory()) throw new UnsafeFileError(`${label}: its folder ${dir} is ${top?.isSymbolicLink() ? 'a symbolic link' : 'not a folder'}`);
  for (let i = 1; i < segments.length; i++) {
    const folder = path.join(dir, ...segments.slice(0, i));
    const info = await lstat(folder).catch(() => undefined);
    if (!info?.isDirectory())
      throw new UnsafeFileError(`${label}: ${segments.slice(0, i).join('/')} is ${info?.isSymbolicLink() ? 'a symbolic link' : info ? 'not a folder' : 'gone'}`);
  }
  const file = path.join(dir, ...segments);
  let handle: FileHandle;
  try {
    handle = await open(file, READ_NOFOLLOW);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') throw new UnsafeFileError(`${label} is a symbolic link, not the file the build wrote`);
    if (code === 'ENOENT') throw new UnsafeFileError(`${label} is gone`);
    throw error;
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw new UnsafeFileError(`${label} is not a regular file`);
    // A folder swapped for a link between the checks above and the open: the name must still lead,
    // inside `dir`, to the very file that is open.
    const [root, real] = await Promise.all([realpath(dir), realpath(file)]);
    const named = await lstat(file);
    if (!real.startsWith(root + path.sep) || named.ino !== info.ino || named.dev !== info.dev) throw new UnsafeFileError(`${label} leads outside its folder`);
    return { path: file, handle, info };
  } catch (error) {
    await handle.close();
    throw error;
  }
}

/** Opens a file by name for reading (links followed), e.g. a log nightshift wrote itself. */
export async function openFile(file: string): Promise<LocalFile> {
  const handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw new UnsafeFileError(`${file} is not a regular file`);
    return { path: file, handle, info };
  } catch (error) {
    await handle.close();
    throw error;
  }
}

/** Hex sha256 of the open file from its start, through one reused buffer (memory stays flat). */
export async function sha256Of(file: LocalFile): Promise<string> {
  const hash = createHash('sha256');
  const buffer = Buffer.allocUnsafe(MiB);
  for (let position = 0; ;) {
    const { bytesRead } = await file.handle.read(buffer, 0, buffer.length, position);
    if (bytesRead === 0) break;
    hash.update(buffer.subarray(0, bytesRead));
    position += bytesRead;
  }
  return hash.digest('hex');
}

/**
 * The open file's bytes from its start, as a stream that hashes what it hands on and, when
 * `expected` is given, fails with ContentChangedError at the end instead of ending cleanly if they
 * hash otherwise or the size changed: a writer that sees the error never completes the object.
 */
export function verifiedStream(file: LocalFile, expected: string | undefined): Readable {
  async function* chunks() {
    const hash = createHash('sha256');
    let position = 0;
    for (;;) {
      // A fresh buffer per chunk: the consumer (an S3 part) may hold on to it.
      const buffer = Buffer.allocUnsafe(MiB);
      const { bytesRead } = await file.handle.read(buffer, 0, buffer.length, position);
      if (bytesRead === 0) break;
      position += bytesRead;
      hash.update(buffer.subarray(0, bytesRead));
      yield buffer.subarray(0, bytesRead);
    }
    const now = hash.digest('hex');
    if (expected !== undefined && (now !== expected || position !== file.info.size)) throw new ContentChangedError(file.path, expected, now);
  }
  return Readable.from(chunks(), { objectMode: false });
}
