/**
 * min_free: before a night starts, make sure its disk has room — trimming package caches first (least
 * recently used; they only cost a slower build), then pruning the oldest nights — else refuse to start:
 * a night that runs out of disk halfway loses logs and leaves half-built artifacts, which is worse than a
 * night that clearly did not start.
 */
import { mkdir, statfs } from 'node:fs/promises';
import { ExitCode, NightshiftError } from '../errors.js';
import { folderSize } from '../files.js';
import { formatSize } from '../units.js';
import { trimCaches } from './cache-trim.js';
import { nightLayout } from '../night/layout.js';
import { nightDate } from '../night/night-date.js';
import { listNights, lockedNights } from '../night/nights.js';
import { rootRefusal } from '../night/root-marker.js';
import { removeNightFolder } from './remove-night.js';
import { selectForSpace, spaceCandidates } from '../night/prune-select.js';

export interface FreeSpaceOptions {
  /** The folder of the night folders; created when missing. */
  root: string;
  /** The night about to start: never pruned. Ages are counted from the clock's today when that is earlier. */
  today: string;
  /** The schedule's time zone, for the clock's today. */
  timezone: string;
  now?: () => Date;
  minFreeBytes: number;
  /** Free bytes for an unprivileged user on the disk holding `dir`; default statfs (bavail × bsize). */
  freeBytes?: (dir: string) => Promise<number>;
  /** Removes these nights' folders; default removeNightFolder (which leaves a night that became locked). */
  prune?: (nights: string[]) => Promise<void>;
}

export interface FreeSpaceResult {
  /** Package caches removed to make room, least recently used first. */
  trimmedCaches: string[];
  /** Nights removed to make room, oldest first. */
  freedNights: string[];
  /** Free bytes at the end. */
  freeBytes: number;
  /** Nights that could not be removed although allowed; the guard went on with the next. */
  errors: string[];
}

export async function ensureFreeSpace(options: FreeSpaceOptions): Promise<FreeSpaceResult> {
  const { root, today, minFreeBytes } = options;
  const freeBytes = options.freeBytes ?? statfsFree;
  await mkdir(root, { recursive: true });
  let free = await freeBytes(root);
  const result: FreeSpaceResult = { trimmedCaches: [], freedNights: [], freeBytes: free, errors: [] };
  if (free >= minFreeBytes) return result;
  const refused = await rootRefusal(root);
  if (refused) throw shortError(options, free, refused, []);

  // Caches a running night may use stay (trimCaches knows which).
  const trimmed = await trimCaches({ root, capBytes: Infinity, bytesNeeded: minFreeBytes - free, dryRun: false });
  result.trimmedCaches = trimmed.removed.map((cache) => cache.key);
  result.errors.push(...trimmed.errors);
  if (trimmed.removed.length) {
    free = await freeBytes(root);
    result.freeBytes = free;
    if (free >= minFreeBytes) return result;
  }

  const nights = await listNights(root);
  const locked = await lockedNights(root, nights);
  const clockToday = nightDate((options.now ?? (() => new Date()))(), options.timezone);
  const candidates = spaceCandidates({ nights, today, clockToday, locked });
  const sizes = new Map<string, number>();
  for (const night of candidates) sizes.set(night, await folderSize(nightLayout(root, night).dir));
  const plan = selectForSpace({ nights, today, clockToday, locked, bytesNeeded: minFreeBytes - free, sizes });
  // Removing nights that cannot make enough room would lose them for nothing: refuse first.
  if (!plan.enough) {
    const why = candidates.length ? `removing every night that may go (${candidates.join(', ')}) would free only about ${formatSize(plan.freed)}` : 'there is no night that may go';
    throw shortError(options, free, `${result.trimmedCaches.length ? `${cachesNote(result)}no night was removed` : 'nothing was removed'}: ${why}`, nights);
  }

  const remove = options.prune ?? removeNights(root, result.errors);
  // One night at a time, oldest first, measuring again after each: sizes are an estimate, free space is not.
  for (const night of candidates) {
    try {
      await remove([night]);
    } catch (error) {
      result.errors.push(`could not remove night ${night}: ${(error as Error).message}`);
    }
    if (!(await listNights(root)).includes(night)) result.freedNights.push(night);
    free = await freeBytes(root);
    result.freeBytes = free;
    if (free >= minFreeBytes) return result;
  }
  const problems = result.errors.length ? `; ${result.errors.join('; ')}` : '';
  throw shortError(options, free, `${cachesNote(result)}removed ${listOrNone(result.freedNights)}, the oldest nights that may go, and it was not enough${problems}`, nights);
}

/** The default remover: a night whose lock a run took meanwhile is left; failures are recorded, not thrown. */
function removeNights(root: string, errors: string[]): (nights: string[]) => Promise<void> {
  return async (nights) => {
    for (const night of nights) {
      const outcome = await removeNightFolder(root, night).catch((error: unknown) => ({ error: (error as Error).message }));
      if (typeof outcome === 'object') errors.push(outcome.error);
    }
  };
}

function shortError(options: FreeSpaceOptions, free: number, pruned: string, nights: readonly string[]): NightshiftError {
  const { root, today, minFreeBytes } = options;
  const before = nights.filter((n) => n < today);
  const stays = before.length ? ` (today and the newest earlier night, ${before.at(-1)!}, always stay, and so do nights in use)` : '';
  return new NightshiftError(
    `not enough disk space to start night ${today}: ${formatSize(free)} free under ${root}, min_free needs ${formatSize(minFreeBytes)}; ` +
      `${pruned}${stays}. Free space on that disk, lower min_free in the schedule, or give the schedule a root (or --root) on a disk with room.`,
    ExitCode.serviceUnavailable,
  );
}

function cachesNote(result: FreeSpaceResult): string {
  return result.trimmedCaches.length ? `removed cache(s) ${result.trimmedCaches.join(', ')}, then ` : '';
}

function listOrNone(nights: readonly string[]): string {
  return nights.length ? nights.join(', ') : 'none';
}

async function statfsFree(dir: string): Promise<number> {
  const stats = await statfs(dir);
  return stats.bavail * stats.bsize;
}
