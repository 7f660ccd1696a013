/**
 * Removing old nights, leftover containers and, beyond cache_size, the least recently used package
 * caches (the effects; which nights go is decided in prune-select.ts, which caches in cache-select.ts).
 * Every night folder removed is a real YYYY_MM_DD directory directly under root; every container
 * removed carries this machine's nightshift label.
 */
import { lstat, readdir, rmdir, unlink } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { removeContainers } from '../build/docker-executor.js';
import { trimCaches, type TrimCachesResult } from './cache-trim.js';
import { nightLayout } from './layout.js';
import { acquireNightLock, readNightLock } from './lock.js';
import { isNightDate, nightDate } from './night-date.js';
import { pruneToday, selectNightsToPrune, type KeepReason } from './prune-select.js';
import { rootRefusal } from './root-marker.js';

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
    return { today: pruneToday(today, clockToday), refused, removed: [], kept: [], reasons: new Map(), containersRemoved: [], errors: [refused], notes };
  }
  const nights = await nightFolders(root).catch((error: Error) => {
    errors.push(`could not list the nights under ${root}: ${error.message}`);
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
  const kept = [...selection.keep];
  for (const night of selection.remove) {
    const outcome = dryRun ? 'removed' : await removeNightFolder(root, night);
    if (outcome === 'removed') removed.push(night);
    else if (outcome === 'locked') {
      kept.push(night);
      reasons.set(night, 'locked');
    } else errors.push(outcome.error);
  }
  // Caches after the nights: a cache's trouble never keeps old nights (or their logs) from going, nor the reverse.
  const caches = options.cacheSizeBytes === undefined ? undefined : await trimCaches({ root, capBytes: options.cacheSizeBytes, dryRun });
  errors.push(...(caches?.errors ?? []));
  return { today: selection.today, removed, kept: kept.sort(), reasons, containersRemoved, errors, notes, caches };
}

export type RemoveOutcome = 'removed' | 'locked' | { error: string };

/**
 * Removes `<root>/<night>` holding its lock meanwhile, so a run or build starting on that night right
 * now cannot have its folder deleted under it: it finds the night busy instead.
 */
export async function removeNightFolder(root: string, night: string): Promise<RemoveOutcome> {
  if (!isNightDate(night)) throw new Error(`not a night folder name: ${JSON.stringify(night)}`);
  const layout = nightLayout(root, night);
  const lock = await acquireNightLock(layout.lock, { purpose: 'prune' }).catch((error: unknown) => error as Error);
  if (lock instanceof Error) return (await liveLock(root, night)) ? 'locked' : { error: `could not remove night ${night}: ${lock.message}` };
  try {
    // The lock goes last: until the folder is empty, whoever tries to start this night finds it busy.
    const failures: NodeJS.ErrnoException[] = [];
    for (const name of await readdir(layout.dir)) {
      const entry = path.join(layout.dir, name);
      if (entry !== layout.lock) failures.push(...(await removeTree(entry)));
    }
    if (failures.length === 0) {
      await lock.release();
      failures.push(...(await removeTree(layout.dir)));
    }
    return failures.length ? { error: removalError(night, layout.dir, failures) } : 'removed';
  } catch (error) {
    return { error: `could not remove night ${night} (${layout.dir}): ${(error as Error).message}` };
  } finally {
    await lock.release().catch(() => {});
  }
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

/** True when a live process holds the night's lock, or the lock cannot be read (keep what we cannot judge). */
async function liveLock(root: string, night: string): Promise<boolean> {
  const holder = await readNightLock(nightLayout(root, night).lock).catch(() => ({ alive: true }));
  return holder?.alive ?? false;
}

function removalError(night: string, dir: string, failures: readonly NodeJS.ErrnoException[]): string {
  const first = failures[0]!;
  const more = failures.length > 1 ? ` and ${failures.length - 1} more` : '';
  if (first.code === 'EACCES' || first.code === 'EPERM') {
    // Containers run as root by default, so a build's artifacts and caches often belong to root.
    return (
      `could not remove night ${night}: no permission to delete ${first.path ?? dir}${more} (likely written as root by a build container); ` +
      `remove it as root (sudo rm -rf ${dir}) or run nightshift as a user allowed to, then prune again`
    );
  }
  return `could not remove night ${night} (${dir}): ${first.message}${more}`;
}

/**
 * The real directories under root whose names are night dates, oldest first (a file or symlink with
 * such a name is not a night and is left alone). A missing root simply has no nights.
 */
export async function nightFolders(root: string): Promise<string[]> {
  try {
    const entries = await readdir(root, { withFileTypes: true });
    return entries.filter((e) => e.isDirectory() && isNightDate(e.name)).map((e) => e.name).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

/**
 * Nights whose lock a live process holds. A lock that cannot be read counts as held (keep what we
 * cannot judge) and is told to `unreadable`.
 */
export async function lockedNights(root: string, nights: readonly string[], unreadable: (night: string, why: string) => void = () => {}): Promise<Set<string>> {
  const locked = new Set<string>();
  for (const night of nights) {
    try {
      if ((await readNightLock(nightLayout(root, night).lock))?.alive) locked.add(night);
    } catch (error) {
      locked.add(night);
      unreadable(night, (error as Error).message);
    }
  }
  return locked;
}

interface LeftoverRequest {
  root: string;
  machine: string;
  /** Nights whose containers belong to a live run. */
  keep: ReadonlySet<string>;
  dryRun: boolean;
  docker: string;
  errors: string[];
  notes: string[];
}

/**
 * Containers of this machine's nightshift whose night has no live run: left by a runner that was
 * killed (killing the docker client does not stop its container). Named `name (night N)`.
 */
async function removeLeftoverContainers(request: LeftoverRequest): Promise<string[]> {
  const { machine, docker, errors } = request;
  // Both labels: another schedule on this machine, with its own root, has its own nights and containers.
  const listed = await execa(docker, ['ps', '-a', '--filter', `label=nightshift.machine=${machine}`, '--filter', `label=nightshift.root=${request.root}`, '--format', '{{.Names}}\t{{.Label "nightshift.night"}}'], {
    reject: false,
    stdin: 'ignore',
  });
  if (listed.exitCode === undefined && listed.code === 'ENOENT') {
    // No Docker on this machine (e.g. a Mac running host builds): there can be no containers to clean.
    request.notes.push(`${docker} not found: no leftover containers to look for`);
    return [];
  }
  if (listed.failed) {
    // The last line says why ("Cannot connect to the Docker daemon ..."); earlier ones are warnings.
    const why = String(listed.stderr).trim().split('\n').at(-1) || listed.shortMessage;
    errors.push(`leftover containers were not checked: docker ps failed: ${why}; start Docker (or fix its permissions) and prune again`);
    return [];
  }
  const byNight = leftoversByNight(String(listed.stdout), request.keep);
  const removed: string[] = [];
  for (const [night, names] of byNight) {
    // A run may have started on that night since the locks were read: its containers are not leftovers.
    if (await liveLock(request.root, night)) continue;
    if (!request.dryRun) {
      try {
        // The guarded removal: by nightshift labels, never by a bare list of names.
        await removeContainers({ 'nightshift.machine': machine, 'nightshift.root': request.root, 'nightshift.night': night }, docker);
      } catch (error) {
        errors.push(`could not remove the leftover containers of night ${night} (${names.join(', ')}): ${(error as Error).message}`);
        continue;
      }
    }
    removed.push(...names.map((name) => `${name} (night ${night})`));
  }
  return removed;
}

/**
 * `name<TAB>night` lines to the container names of each night without a live run. A container whose
 * night label is missing or not a date was not made by a nightshift run and is left alone.
 */
export function leftoversByNight(listing: string, keep: ReadonlySet<string>): Map<string, string[]> {
  const byNight = new Map<string, string[]>();
  for (const line of listing.split('\n')) {
    const [name, night] = line.trim().split('\t');
    if (!name || !night || !isNightDate(night) || keep.has(night)) continue;
    byNight.set(night, [...(byNight.get(night) ?? []), name]);
  }
  return byNight;
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
