/**
 * Which package caches to trim — pure, so every boundary is tested without a disk. Caches go least
 * recently used first until the total is within the cap; a cache a running build may have mounted
 * is never chosen, even when that leaves the total over the cap.
 */

export interface CacheEntry {
  /** The folder name under `<root>/cache`. */
  key: string;
  /** Bytes it takes on disk. */
  bytes: number;
  /** When a build last mounted it (the folder's modification time), ms since the epoch. */
  lastUsedMs: number;
}

/** Why a cache is kept. */
export type CacheKeepReason =
  /** The total is within the cap once the older caches are gone (or was already). */
  | 'within-cap'
  /** Used since the start of a night that is still running: a build may have it mounted. */
  | 'in-use';

export interface CacheTrimRequest {
  caches: readonly CacheEntry[];
  /** The schedule's cache_size. */
  capBytes: number;
  /**
   * Caches last used at or after this instant may be in use and are kept; undefined = no night is
   * running, -Infinity = unknown (every cache is kept).
   */
  inUseSinceMs?: number;
}

export interface CacheTrimSelection {
  /** Caches to remove, least recently used first. */
  remove: CacheEntry[];
  /** Caches kept, least recently used first. */
  keep: CacheEntry[];
  reasons: ReadonlyMap<string, CacheKeepReason>;
  /** Bytes of every cache before trimming. */
  totalBytes: number;
  /** Bytes left once `remove` is gone. */
  bytesAfter: number;
  /** True when `bytesAfter` is within the cap. */
  withinCap: boolean;
}

export function selectCachesToTrim(request: CacheTrimRequest): CacheTrimSelection {
  if (!(request.capBytes >= 0)) throw new Error(`capBytes must be 0 or more (got ${request.capBytes})`);
  // Oldest first; the key breaks ties so that every run picks the same caches.
  const ordered = [...request.caches].sort((a, b) => a.lastUsedMs - b.lastUsedMs || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const totalBytes = ordered.reduce((sum, cache) => sum + cache.bytes, 0);
  const inUse = (cache: CacheEntry) => request.inUseSinceMs !== undefined && cache.lastUsedMs >= request.inUseSinceMs;
  const reasons = new Map<string, CacheKeepReason>();
  const remove: CacheEntry[] = [];
  const keep: CacheEntry[] = [];
  let bytes = totalBytes;
  for (const cache of ordered) {
    if (bytes <= request.capBytes) {
      keep.push(cache);
      reasons.set(cache.key, 'within-cap');
    } else if (inUse(cache)) {
      keep.push(cache);
      reasons.set(cache.key, 'in-use');
    } else {
      remove.push(cache);
      bytes -= cache.bytes;
    }
  }
  return { remove, keep, reasons, totalBytes, bytesAfter: bytes, withinCap: bytes <= request.capBytes };
}

/**
 * The instant from which caches count as in use: the start of the earliest night still running on
 * the root, less a margin for file systems whose times are coarse. undefined when none runs;
 * -Infinity when a running night's start is unknown (keep everything rather than guess).
 */
export function inUseSince(runningStarts: readonly (string | undefined)[], marginMs = 2000): number | undefined {
  if (runningStarts.length === 0) return undefined;
  const times = runningStarts.map((start) => (start === undefined ? NaN : Date.parse(start)));
  if (times.some((t) => Number.isNaN(t))) return -Infinity;
  return Math.min(...times) - marginMs;
}
