/**
 * The file destination: the same layout as in a bucket, on a local (or mounted) disk. Every write
 * goes to a temporary file next to its target and is renamed into place, so a reader (a download
 * page, rsync, the morning report) never sees half a file under the real name.
 *
 * A file on the same file system is published as a hard link rather than a copy (a 1 GiB log: about
 * 0.3 s instead of 4), when the link cannot be told from a copy by its owner, group and mode. That is
 * safe because nightshift never changes a log or an artifact in place: a log is renamed into
 * succeeded/ or failed/, a rerun writes a new log and empties the output folder first (unlink), and
 * prune removes whole nights (unlink). Removing either name leaves the other whole.
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { link, lstat, mkdir, open, readdir, readFile, rename, rm, rmdir, stat, unlink } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { checkKey, DestinationError, type Destination, type DestinationSpec, type ObjectInfo, type PutFileOptions, type PutOptions } from './destination.js';
import { sha256File, syncDir, syncFile } from '../files.js';
import { ContentChangedError, openFile, sha256Of, UnsafeFileError, verifiedStream, type LocalFile } from './local-file.js';

const MiB = 1024 * 1024;
/** Temporary files end so; list() skips them and no key may look like one. */
const TEMP_SUFFIX = '.nightshift-tmp';

export class FileDestination implements Destination {
  readonly url: string;
  /** The root folder. */
  readonly root: string;

  constructor(spec: Pick<DestinationSpec, 'url'>) {
    let root: string;
    try {
      root = fileURLToPath(spec.url);
    } catch (error) {
      throw new DestinationError(`${spec.url}: not a file URL; expected file:///absolute/path/`, false, { cause: error });
    }
    this.root = path.resolve(root);
    const href = pathToFileURL(this.root).href;
    this.url = href.endsWith('/') ? href : `${href}/`;
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    const file = this.pathOf(key);
    return this.wrap(key, 'read', async () => {
      try {
        const info = await stat(file);
        if (!info.isFile()) return undefined;
        return { size: info.size, sha256: await sha256File(file) };
      } catch (error) {
        if (isMissing(error)) return undefined;
        throw error;
      }
    });
  }

  async putFile(key: string, file: string | LocalFile, options: PutFileOptions): Promise<void> {
    const target = this.pathOf(key);
    await this.wrap(key, 'write', async () => {
      const source = typeof file === 'string' ? await openSource(file, `${this.url}${key}`) : file;
      try {
        options.signal?.throwIfAborted();
        await writeAtomic(target, async (temp) => {
          if (await linkLikeCopy(source, temp)) {
            // Linked after the checks on the open file: its content is what the caller recorded.
            if (options.sha256 !== undefined) {
              const now = await sha256Of(source);
              if (now !== options.sha256) throw new ContentChangedError(source.path, options.sha256, now);
            }
            // The link is as durable as a copy: its data reaches the disk before the rename names it.
            await syncFile(temp);
            options.signal?.throwIfAborted();
            return;
          }
          // Streamed from the open file, so memory stays flat for a 5 GB wheel and what is hashed is
          // what is written; `flush` fsyncs before close, so a crash after the rename cannot leave a
          // short file under the real name.
          await pipeline(verifiedStream(source, options.sha256), createWriteStream(temp, { flags: 'wx', flush: true, highWaterMark: MiB }), { signal: options.signal });
        });
      } finally {
        if (typeof file === 'string') await source.handle.close();
      }
    });
  }

  async putBytes(key: string, body: string | Uint8Array, options: PutOptions): Promise<void> {
    const target = this.pathOf(key);
    options.signal?.throwIfAborted();
    await this.wrap(key, 'write', () =>
      writeAtomic(target, async (temp) => {
        const handle = await open(temp, 'wx');
        try {
          await handle.writeFile(body);
          await handle.sync();
        } finally {
          await handle.close();
        }
      }),
    );
  }

  async getBytes(key: string, options: { lastBytes?: number } = {}): Promise<Buffer | undefined> {
    const file = this.pathOf(key);
    return this.wrap(key, 'read', async () => {
      try {
        if (options.lastBytes !== undefined) return await readTail(file, options.lastBytes);
        return await readFile(file);
      } catch (error) {
        if (isMissing(error)) return undefined;
        throw error;
      }
    });
  }

  async list(prefix: string): Promise<string[]> {
    checkKey(this.url, prefix, 'prefix');
    // Prefixes match like S3's, by string and not by folder ("2026_01" matches "2026_01_02/..."), so
    // walk the deepest folder the prefix names and filter.
    const folder = prefix.slice(0, prefix.lastIndexOf('/') + 1);
    const keys: string[] = [];
    await this.wrap(prefix, 'list', () => walk(path.join(this.root, folder), folder, keys));
    return keys.filter((key) => key.startsWith(prefix)).sort();
  }

  async delete(key: string): Promise<void> {
    const file = this.pathOf(key);
    await this.wrap(key, 'remove', async () => {
      try {
        const info = await lstat(file);
        // A folder is not an object (list() skips folders): it is not nightshift's to remove.
        if (info.isDirectory()) return;
        await unlink(file);
      } catch (error) {
        if (isMissing(error)) return;
        throw error;
      }
      await syncDir(path.dirname(file));
      await removeEmptyFolders(path.dirname(file), this.root);
    });
  }

  private pathOf(key: string): string {
    checkKey(this.url, key);
    if (key.endsWith(TEMP_SUFFIX))
      throw new DestinationError(`${this.url}: invalid key ${JSON.stringify(key)}: names ending in ${TEMP_SUFFIX} are nightshift's temporary files`, false);
    return path.join(this.root, ...key.split('/'));
  }

  /** Runs an operation, turning a file system error into a DestinationError that says what to do. */
  private async wrap<T>(key: string, doing: 'read' | 'write' | 'list' | 'remove', operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      if (error instanceof DestinationError || error instanceof ContentChangedError || (error as Error).name === 'AbortError') throw error;
      const e = error as NodeJS.ErrnoException & { sourceFile?: string };
      const what = e.sourceFile ? `cannot read ${e.sourceFile}` : `cannot ${doing}`;
      const why = (e.code && REASONS[e.code]) ?? e.message;
      throw new DestinationError(`${this.url}${key}: ${what}: ${why}${e.code ? ` (${e.code})` : ''}`, false, { cause: error });
    }
  }
}

const REASONS: Record<string, string> = {
  ENOENT: 'no such file or folder',
  EACCES: 'permission denied: check the folder’s owner and mode',
  EPERM: 'operation not permitted: check the folder’s owner and mode',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'the file system is read-only',
  ENOTDIR: 'a part of the path is a file, not a folder',
  EISDIR: 'a folder is in the way',
  ENOTEMPTY: 'a folder is in the way',
  EEXIST: 'a file is in the way',
};

/**
 * Writes `target` through `fill(temp)` and a rename in the same folder (atomic on one file system).
 * A delete on another machine removes folders it emptied (see delete); when the folder went away
 * between the mkdir and the rename, it is made again and the write tried again (`fill` reads its
 * source from the start each time).
 */
async function writeAtomic(target: string, fill: (temp: string) => Promise<void>): Promise<void> {
  const dir = path.dirname(target);
  for (let attempt = 1; ; attempt++) {
    await mkdir(dir, { recursive: true });
    const temp = path.join(dir, `.${path.basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}${TEMP_SUFFIX}`);
    try {
      await fill(temp);
      await rename(temp, target);
      break;
    } catch (error) {
      await rm(temp, { force: true });
      if (attempt < 3 && (error as NodeJS.ErrnoException).code === 'ENOENT' && !(await exists(dir))) continue;
      throw error;
    }
  }
  await syncDir(dir);
}

async function exists(file: string): Promise<boolean> {
  return lstat(file).then(
    () => true,
    () => false,
  );
}

/**
 * Removes `dir` and the folders above it while they are empty, up to (never including) `root`, so
 * that deleted keys leave no empty folders behind. A folder something was written to meanwhile is not
 * empty and stays (rmdir removes only empty folders, atomically).
 */
async function removeEmptyFolders(dir: string, root: string): Promise<void> {
  for (let folder = dir; folder.startsWith(root + path.sep); folder = path.dirname(folder)) {
    try {
      await rmdir(folder);
    } catch {
      return; // not empty (ENOTEMPTY, EEXIST), gone already, or not ours to remove: stop here
    }
  }
}

/** Link errors that mean "copy instead": another file system, no hard links there, or none allowed for this file. */
const CANNOT_LINK = new Set(['EXDEV', 'EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EMLINK']);

/**
 * Hard-links the open `source` at `temp` when the result is the same as a copy would be:
 * the owner, group and mode a new file gets in that folder here (umask, a setgid folder's group and a
 * default ACL all count: a probe file is created to see). False, with nothing at `temp`, when a copy
 * is needed: a different owner or mode (a build's root-owned 0600 wheel must not be published so),
 * another file system, one without hard links, or a name that no longer leads to the open file.
 */
async function linkLikeCopy(source: LocalFile, temp: string): Promise<boolean> {
  const { info } = source;
  const probe = await open(temp, 'wx');
  let made: Stats;
  try {
    made = await probe.stat();
  } finally {
    await probe.close();
    await rm(temp, { force: true });
  }
  if (made.uid !== info.uid || made.gid !== info.gid || (made.mode & 0o7777) !== (info.mode & 0o7777)) return false;
  try {
    await link(source.path, temp);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (CANNOT_LINK.has(code ?? '')) return false;
    // The folder is there (the probe was made in it): a missing name is the file's.
    throw code === 'ENOENT' ? Object.assign(error as Error, { sourceFile: source.path }) : error;
  }
  // The name may have been given to another file (or a link) since it was opened: keep the link only
  // when it is the very regular file that is open, else copy from the open file.
  const linked = await lstat(temp);
  if (linked.isFile() && linked.ino === info.ino && linked.dev === info.dev) return true;
  await rm(temp, { force: true });
  return false;
}

/** A file named by path, opened for reading; errors name it (see wrap). */
async function openSource(file: string, where: string): Promise<LocalFile> {
  try {
    return await openFile(file);
  } catch (error) {
    // The same rule as for S3, where a pipe or a device has no size to announce.
    if (error instanceof UnsafeFileError) throw new DestinationError(`${where}: cannot read ${file}: not a regular file`, false);
    throw Object.assign(error as Error, { sourceFile: file });
  }
}

/** Appends every file's key under `dir` (whose key prefix is `base`) to `keys`, skipping temp files. */
async function walk(dir: string, base: string, keys: string[]): Promise<void> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    if (isMissing(error)) return; // nothing written there yet: an empty listing, as in S3
    throw error;
  }
  for (const entry of entries) {
    if (entry.isDirectory()) await walk(path.join(dir, entry.name), `${base}${entry.name}/`, keys);
    else if (entry.isFile() && !entry.name.endsWith(TEMP_SUFFIX)) keys.push(base + entry.name);
  }
}

/** The key names nothing (or a folder, which is not an object either). */
function isMissing(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR';
}

/** The last `bytes` of a file (all of it when shorter), without reading the rest. */
async function readTail(file: string, bytes: number): Promise<Buffer> {
  const handle = await open(file, 'r');
  try {
    const { size } = await handle.stat();
    const length = Math.min(size, bytes);
    const buffer = Buffer.alloc(length);
    await handle.read(buffer, 0, length, size - length);
    return buffer;
  } finally {
    await handle.close();
  }
}
