/**
 * Package caches: `<root>/cache/<key>`, one persistent folder per rendered `cache.key`, mounted
 * read-write into every build with that key (several at once may share it, like ccache or sccache
 * expect). A build marks its cache used by setting the folder's modification time when it starts;
 * prune trims the least recently used caches beyond `cache_size` (src/night/cache-select.ts, src/runner/cache-trim.ts).
 */
import { mkdir, utimes } from 'node:fs/promises';
import path from 'node:path';
import { unsafeCacheKey } from '../config/cache-key.js';
import type { Cell } from '../config/model.js';
import { renderCacheKey } from './build-env.js';

/** What a build is given: the folder on this machine, and where a container sees it. */
export interface CacheMount {
  /** `<root>/cache/<key>`, absolute. */
  hostDir: string;
  /** The mount point inside the container (docker only). */
  path?: string;
}

/** The folder holding every cache of a schedule's root. */
export function cacheRoot(root: string): string {
  return path.join(root, 'cache');
}

/** The cell's cache, or undefined when its package has none — pure. */
export function cacheMount(cell: Cell, root: string, date: string, machine: string): CacheMount | undefined {
  const key = renderCacheKey(cell, date, machine);
  if (key === null) return undefined;
  const why = unsafeCacheKey(key);
  // Validation refuses such keys; this guards the disk should a config slip through.
  if (why) throw new Error(`${cell.id}: cache key "${key}" is not one folder name (${why}); run nightshift validate`);
  return { hostDir: path.join(cacheRoot(root), key), ...(cell.package.cache!.path !== undefined && { path: cell.package.cache!.path }) };
}

/**
 * Opens the build's cache, if it has one: why it could not (the build's start error, so that only
 * this build fails and its log says why), or undefined.
 */
export async function cacheStartError(mount: CacheMount | undefined): Promise<string | undefined> {
  if (!mount) return undefined;
  return openCache(mount).then(
    () => undefined,
    (error: unknown) => `could not open the cache ${mount.hostDir}: ${(error as Error).message}`,
  );
}

/**
 * Creates the cache folder if needed (before Docker would, as root) and stamps it as used now, so
 * that prune sees it as recently used and leaves it to the running night.
 */
export async function openCache(mount: CacheMount, now: Date = new Date()): Promise<void> {
  // Twice at most: prune may rename the folder away between the mkdir and the stamp.
  for (let attempt = 0; ; attempt++) {
    await mkdir(mount.hostDir, { recursive: true });
    try {
      await utimes(mount.hostDir, now, now);
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || attempt > 0) throw error;
    }
  }
}
