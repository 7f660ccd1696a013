/**
 * Trimming `<root>/cache` to the schedule's cache_size (the effects; which caches go is decided in
 * cache-select.ts): measure each cache, find the nights still running, remove the chosen caches.
 * A cache is first renamed out of the way, so a build never finds one half deleted.
 */
import { randomBytes } from 'node:crypto';
import { lstat, readdir, rename } from 'node:fs/promises';
import path from 'node:path';
import { cacheRoot } from '../build/cache.js';
import { unsafeCacheKey } from '../config/cache-key.js';
import { folderSize, removeTree } from '../files.js';
import { nightLayout } from '../night/layout.js';
import { readNightLock } from '../night/lock.js';
import { listNights } from '../night/nights.js';
import { inUseSince, selectCachesToTrim, type CacheEntry, type CacheKeepReason } from '../night/cache-select.js';
import { rootRefusal } from '../night/root-marker.js';

export interface TrimCachesOptions {
  root: string;
  capBytes: number;
  /** Also free at least this many bytes, least recently used first (the min_free guard before a night). */
  bytesNeeded?: number;
  /** Report what would be removed, remove nothing. */
  dryRun: boolean;
}

export interface TrimCachesResult {
  /** `<root>/cache`. */
  dir: string;
  /** Caches removed (with dryRun: that would be), least recently used first. */
  removed: CacheEntry[];
  /** Caches kept, least recently used first. */
  kept: CacheEntry[];
  reasons: ReadonlyMap<string, CacheKeepReason>;
  totalBytes: number;
  /** Bytes left (with dryRun: that would be). */
  bytesAfter: number;
  capBytes: number;
  /** What could not be done, each saying what to do; trimming went on with the rest. */
  errors: string[];
}

/** Folders being removed are renamed to this prefix; a leftover of an earlier failed removal goes next time. */
const TRASH_PREFIX = '.trash-';

export async function trimCaches(options: TrimCachesOptions): Promise<TrimCachesResult> {
  const dir = cacheRoot(options.root);
  const refused = await rootRefusal(options.root);
  if (refused) return { dir, removed: [], kept: [], reasons: new Map(), totalBytes: 0, bytesAfter: 0, capBytes: options.capBytes, errors: [refused] };
  const errors: string[] = [];
  const entries = await readdir(dir, { withFileTypes: true }).catch((error: unknown) => {
    const { code, message } = error as NodeJS.ErrnoException;
    if (code !== 'ENOENT') errors.push(`could not list the caches in ${dir}: ${message}; it must be a folder nightshift may read (move away whatever is there instead)`);
    return [];
  });
  if (!options.dryRun) {
    for (const entry of entries.filter((e) => e.isDirectory() && e.name.startsWith(TRASH_PREFIX))) {
      const failures = await removeTree(path.join(dir, entry.name));
      if (failures.length) errors.push(removalError(path.join(dir, entry.name), failures));
    }
  }

  // Only real folders named like a key are caches: anything else someone put there is left alone.
  const caches: CacheEntry[] = [];
  for (const entry of entries.filter((e) => e.isDirectory() && unsafeCacheKey(e.name) === undefined)) {
    const folder = path.join(dir, entry.name);
    const stats = await lstat(folder).catch(() => undefined);
    if (stats) caches.push({ key: entry.name, bytes: await folderSize(folder), lastUsedMs: stats.mtimeMs });
  }
  const total = caches.reduce((sum, cache) => sum + cache.bytes, 0);
  const capBytes = Math.min(options.capBytes, Math.max(0, total - (options.bytesNeeded ?? 0)));
  const selection = selectCachesToTrim({ caches, capBytes, inUseSinceMs: inUseSince(await runningNightStarts(options.root)) });

  const removed: CacheEntry[] = [];
  const kept = [...selection.keep];
  const reasons = new Map(selection.reasons);
  for (const cache of selection.remove) {
    const outcome = options.dryRun ? 'removed' : await removeCache(dir, cache);
    if (outcome === 'removed') removed.push(cache);
    else {
      kept.push(cache);
      if (outcome === 'in-use') reasons.set(cache.key, 'in-use');
      else errors.push(outcome.error);
    }
  }
  const freed = removed.reduce((sum, cache) => sum + cache.bytes, 0);
  kept.sort((a, b) => a.lastUsedMs - b.lastUsedMs);
  return { dir, removed, kept, reasons, totalBytes: selection.totalBytes, bytesAfter: selection.totalBytes - freed, capBytes: options.capBytes, errors };
}

/**
 * When each night still running on this root started (undefined when its lock cannot be read: keep
 * what we cannot judge). Every build runs under its night's lock, so these bound the caches in use.
 */
async function runningNightStarts(root: string): Promise<(string | undefined)[]> {
  const starts: (string | undefined)[] = [];
  for (const night of await listNights(root).catch(() => [] as string[])) {
    try {
      const lock = await readNightLock(nightLayout(root, night).lock);
      if (lock?.alive) starts.push(lock.started_at);
    } catch {
      starts.push(undefined);
    }
  }
  return starts;
}

/**
 * Renames the cache aside, then removes it. A build that stamped it since it was measured is using
 * it: it stays (renamed back when the stamp changed in between).
 */
async function removeCache(dir: string, cache: CacheEntry): Promise<'removed' | 'in-use' | { error: string }> {
  const folder = path.join(dir, cache.key);
  const usedMeanwhile = async (at: string) => ((await lstat(at).catch(() => undefined))?.mtimeMs ?? cache.lastUsedMs) !== cache.lastUsedMs;
  try {
    if (await usedMeanwhile(folder)) return 'in-use';
    const trash = path.join(dir, `${TRASH_PREFIX}${cache.key}-${randomBytes(4).toString('hex')}`);
    await rename(folder, trash);
    if (await usedMeanwhile(trash)) {
      // A build stamped it between the check and the rename: give it back, unless it made a new one.
      const back = await rename(trash, folder).then(
        () => true,
        () => false,
      );
      if (back) return 'in-use';
    }
    const failures = await removeTree(trash);
    return failures.length ? { error: removalError(trash, failures) } : 'removed';
  } catch (error) {
    return { error: `could not remove the cache ${folder}: ${(error as Error).message}` };
  }
}

function removalError(folder: string, failures: readonly NodeJS.ErrnoException[]): string {
  const first = failures[0]!;
  const more = failures.length > 1 ? ` and ${failures.length - 1} more` : '';
  if (first.code === 'EACCES' || first.code === 'EPERM') {
    // Containers run as root by default, so what a build wrote into its cache often belongs to root.
    return `could not remove the cache ${folder}: no permission to delete ${first.path ?? folder}${more} (likely written as root by a build container); remove it as root or run nightshift as a user allowed to, then prune again`;
  }
  return `could not remove the cache ${folder}: ${first.message}${more}`;
}
