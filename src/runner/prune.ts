/**
 * Pruning a root: old nights, this machine's leftover containers and, beyond cache_size, the least
 * recently used package caches. Which nights go is decided in src/night/prune-select.ts, which caches
 * in src/night/cache-select.ts; removing a night is remove-night.ts, the containers
 * leftover-containers.ts, the caches cache-trim.ts.
 */
import { folderSize } from '../files.js';
import { nightLayout } from '../night/layout.js';
import { nightDate } from '../night/night-date.js';
import { listNights, lockedNights } from '../night/nights.js';
import { pruneToday, selectNightsToPrune, type KeepReason } from '../night/prune-select.js';
import { rootRefusal } from '../night/root-marker.js';
import { trimCaches, type TrimCachesResult } from './cache-trim.js';
import { removeLeftoverContainers } from './leftover-containers.js';
import { removeNightFolder } from './remove-night.js';

export interface PruneNightsOptions {
  root: string;
  /** The current night, YYYY_MM_DD; ages are counted from the clock's today when that is earlier. */
  today: string;
  /** The schedule's time zone, for the clock's today. */
  timezone: string;
  now?: () => Date;
  keepDays: number;
  /** Report what would be removed, remove nothing. */
  dryRun: boolean;
  /** Leftover containers of this machine's name are removed. */
  machine: string;
  /** The docker client binary; default `docker`. */
  docker?: string;
  /** The schedule's cache_size: package caches under `<root>/cache` are trimmed to it. Left out: not trimmed. */
  cacheSizeBytes?: number;
}

export interface PruneResult {
  /** The day ages were counted from (see pruneToday). */
  today: string;
  /** Set when nothing was removed because the root is not nightshift's (root-marker.ts): why, and what to do. */
  refused?: string;
  /** Nights removed (with dryRun: that would be), oldest first. */
  removed: string[];
  /** Bytes each removed night took (with dryRun: would free), measured before it went. */
  removedBytes: ReadonlyMap<string, number>;
  /** Nights kept, oldest first. */
  kept: string[];
  /** Why each kept night is kept. */
  reasons: ReadonlyMap<string, KeepReason>;
  /** Names of the containers removed (with dryRun: that would be), each with its night. */
  containersRemoved: string[];
  /** What could not be done, each saying what to do; pruning went on with the rest. */
  errors: string[];
  /** Worth saying but not a failure (e.g. no Docker on this machine, so no containers to look for). */
  notes: string[];
  /** What trimming the package caches did (or would do), when cacheSizeBytes was given. */
  caches?: TrimCachesResult;
}

export async function pruneNights(options: PruneNightsOptions): Promise<PruneResult> {
  const { root, today, keepDays, dryRun } = options;
  const clockToday = nightDate((options.now ?? (() => new Date()))(), options.timezone);
  const errors: string[] = [];
  const notes: string[] = [];
  const refused = await rootRefusal(root);
  if (refused) {
    return { today: pruneToday(today, clockToday), refused, removed: [], removedBytes: new Map(), kept: [], reasons: new Map(), containersRemoved: [], errors: [refused], notes };
  }
  const nights = await listNights(root).catch((error: unknown) => {
    errors.push(`could not list the nights under ${root}: ${(error as Error).message}`);
    return [];
  });
  const locked = await lockedNights(root, nights, (night, why) => errors.push(`night ${night} is kept: ${why}`));
  const selection = selectNightsToPrune({ nights, today, clockToday, keepDays, locked });
  const reasons = new Map(selection.reasons);
  if (selection.today !== today) notes.push(`${today} is after today (${clockToday} in ${options.timezone}): nights were aged from ${clockToday}`);
  if (selection.refused) errors.push(selection.refused);

  // Containers first: a leftover build still writing into an old night would refill it while it goes.
  const containersRemoved = await removeLeftoverContainers({ root, machine: options.machine, keep: locked, dryRun, docker: options.docker ?? 'docker', errors, notes });

  const removed: string[] = [];
  const removedBytes = new Map<string, number>();
  const kept = [...selection.keep];
  for (const night of selection.remove) {
    const bytes = await folderSize(nightLayout(root, night).dir);
    const outcome = dryRun ? 'removed' : await removeNightFolder(root, night);
    if (outcome === 'removed') {
      removed.push(night);
      removedBytes.set(night, bytes);
    } else if (outcome === 'locked') {
      kept.push(night);
      reasons.set(night, 'locked');
    } else errors.push(outcome.error);
  }
  // Caches after the nights: a cache's trouble never keeps old nights (or their logs) from going, nor the reverse.
  const caches = options.cacheSizeBytes === undefined ? undefined : await trimCaches({ root, capBytes: options.cacheSizeBytes, dryRun });
  errors.push(...(caches?.errors ?? []));
  return { today: selection.today, removed, removedBytes, kept: kept.sort(), reasons, containersRemoved, errors, notes, caches };
}
