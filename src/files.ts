/**
 * Working with files, the one place for it: atomic writes, fsync, sha256, stale temporary files, a
 * full disk, and removing or measuring a tree of files.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { lstat, open, readdir, readFile, rename, rm, rmdir, statfs, unlink } from 'node:fs/promises';
import path from 'node:path';
import { ExitCode, NightshiftError } from './errors.js';

/** The file's text, or undefined when it does not exist (any other error is thrown). */
export async function readTextIfExists(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** Writes JSON so that `file` always holds either its old or its new complete content. */
export function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  return writeFileAtomic(file, `${JSON.stringify(value, null, 2)}\n`);
}

/**
 * Writes `text` so that readers only ever see the old or the new complete file: a temporary file in the
 * same folder (rename is atomic only within one file system, and a dot name is skipped by run-parts and
 * systemd), fsync, rename, fsync of the folder.
 */
export async function writeFileAtomic(file: string, text: string, options: { mode?: number } = {}): Promise<void> {
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    const handle = await open(temp, 'wx', options.mode ?? 0o644);
    try {
      await handle.writeFile(text, 'utf8');
      if (options.mode !== undefined) await handle.chmod(options.mode); // whatever the umask
      // Without fsync a power loss after the rename can leave an empty file under the new name.
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, file);
  } catch (error) {
    await rm(temp, { force: true });
    if (isDiskFull(error)) throw diskFullError(file, error);
    throw error;
  }
  await syncDir(path.dirname(file));
}

/** ENOSPC, or EDQUOT (a quota is a full disk for its user). */
export function isDiskFull(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

/** What a full disk says to the user: the file that could not be written, and where to free space (exit 4). */
export function diskFullError(file: string, cause?: unknown): NightshiftError {
  return new NightshiftError(`could not write ${file}: no space left on device: free space under ${mountPointOf(file)}`, ExitCode.serviceUnavailable, { cause });
}

/** The mount point holding `file` (which need not exist): its highest ancestor on the same device. */
export function mountPointOf(file: string): string {
  let dir = path.resolve(file);
  try {
    while (!existsSync(dir)) dir = path.dirname(dir);
    const device = statSync(dir).dev;
    for (let parent = path.dirname(dir); parent !== dir && statSync(parent).dev === device; parent = path.dirname(dir)) dir = parent;
  } catch {
    // an unreadable ancestor: the folder found so far is the best answer
  }
  return dir;
}

/**
 * Whether the file system holding `dir` is full for this process: less than 64 KiB free to it (builds fail
 * on a disk that is nearly full too, and a failed build's partial files do not fill every last block).
 */
export async function diskFullUnder(dir: string): Promise<boolean> {
  const stats = await statfs(dir).catch(() => undefined);
  return stats !== undefined && stats.bavail * stats.bsize < 64 * 1024;
}

/**
 * Removes what writeFileAtomic left of `name` in `dir` when a writer was killed between creating its
 * temporary file and the rename: only files whose writer (the pid in the name) is gone.
 */
export async function removeStaleTemps(dir: string, name: string): Promise<string[]> {
  const removed: string[] = [];
  const pattern = /^\.(.+)\.(\d+)\.[0-9a-f]{8}\.tmp$/;
  for (const entry of await readdir(dir).catch(() => [] as string[])) {
    const match = pattern.exec(entry);
    if (!match || match[1] !== name || isAlive(Number(match[2]))) continue;
    await rm(path.join(dir, entry), { force: true });
    removed.push(entry);
  }
  return removed;
}

/** Whether a process with this pid exists: signal 0 checks only that; EPERM means it belongs to another user. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Makes the rename itself durable; some platforms cannot fsync a folder, which only costs durability. */
export async function syncDir(dir: string): Promise<void> {
  await syncFile(dir).catch(() => {}); // best effort
}

/** fsync of a file's data (or a folder's entries) by path. */
export async function syncFile(file: string): Promise<void> {
  const handle = await open(file, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Hex sha256 of a file, read through one reused 1 MiB buffer: memory stays flat for multi-gigabyte
 * artifacts (a stream allocates a buffer per chunk, and RSS grows until the collector catches up).
 */
export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  const buffer = Buffer.allocUnsafe(1024 * 1024);
  const handle = await open(file, 'r');
  try {
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
    }
  } finally {
    await handle.close();
  }
  return hash.digest('hex');
}

/**
 * Removes `target` and everything under it, going on past what cannot be removed (the more goes, the
 * more room), and returns what failed. Not fs.rm: on Linux it reports a file it may not unlink
 * (EPERM, e.g. immutable) as ENOTDIR from scandir, which would hide the permission problem.
 */
export async function removeTree(target: string): Promise<NodeJS.ErrnoException[]> {
  const failures: NodeJS.ErrnoException[] = [];
  const fail = (error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') failures.push(error);
  };
  const remove = async (entry: string): Promise<void> => {
    const stats = await lstat(entry).catch(fail);
    if (!stats) return;
    if (!stats.isDirectory()) return unlink(entry).catch(fail);
    const before = failures.length;
    for (const name of (await readdir(entry).catch(fail)) ?? []) await remove(path.join(entry, name));
    // A folder whose content could not all go cannot go either; that is the same failure, not another.
    if (failures.length === before) await rmdir(entry).catch(fail);
  };
  await remove(target);
  return failures;
}

/**
 * Bytes a folder takes on disk, like `du`: every entry's allocated blocks (at least its length),
 * hard links counted once, symlinks never followed. Entries vanishing meanwhile count as 0.
 */
export async function folderSize(dir: string): Promise<number> {
  const seen = new Set<string>();
  const sizeOf = async (entry: string): Promise<number> => {
    const stats = await lstat(entry).catch(() => undefined);
    if (!stats) return 0;
    const inode = `${stats.dev}:${stats.ino}`;
    if (seen.has(inode)) return 0;
    seen.add(inode);
    let total = Math.max(stats.size, stats.blocks * 512);
    if (stats.isDirectory()) {
      const names = await readdir(entry).catch(() => [] as string[]);
      for (const name of names) total += await sizeOf(path.join(entry, name));
    }
    return total;
  };
  return sizeOf(dir);
}
