/**
 * One run per night folder. The lock file holds `{pid, host, started_at, purpose}`; a lock whose
 * pid is dead on this host is stale and taken over.
 */
import { createHash, randomBytes } from 'node:crypto';
import { link, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { ExitCode, NightshiftError } from '../errors.js';
import { diskFullError, isAlive, isDiskFull, readTextIfExists } from '../files.js';

/** A takeover lasts milliseconds; racers wait this long in all for the one doing it. */
const TAKEOVER_ROUNDS = 100;
const TAKEOVER_WAIT_MS = 20;

export interface LockInfo {
  pid: number;
  host: string;
  started_at: string;
  purpose: string;
}

export interface LockStatus extends LockInfo {
  /** True while the holder runs. A lock written on another host counts as alive: its pid cannot be checked here. */
  alive: boolean;
}

export interface NightLock {
  readonly path: string;
  readonly info: LockInfo;
  /** Removes the lock file if it is still ours; safe to call twice. */
  release(): Promise<void>;
}

export interface AcquireOptions {
  /** What the holder does, shown to whoever finds the night locked (e.g. "run", "build"). */
  purpose?: string;
  now?: () => Date;
}

/** Takes the lock or throws a NightshiftError naming its live holder. */
export async function acquireNightLock(lockPath: string, options: AcquireOptions = {}): Promise<NightLock> {
  const taken = await acquireLockOrHolder(lockPath, options);
  if ('release' in taken) return taken;
  throw lockedError(lockPath, taken);
}

/** Takes the lock, or answers its live holder (for a caller that waits its turn instead of giving up). */
export async function acquireLockOrHolder(lockPath: string, options: AcquireOptions = {}): Promise<NightLock | LockStatus> {
  const info: LockInfo = {
    pid: process.pid,
    host: os.hostname(),
    started_at: (options.now ?? (() => new Date()))().toISOString(),
    purpose: options.purpose ?? 'run',
  };
  let stale: LockStatus | undefined;
  // Each round creates the lock, fails on a live holder, or removes (or waits for the removal of) a stale one.
  for (let round = 0; round < TAKEOVER_ROUNDS; round++) {
    if (await createExclusive(lockPath, info)) return heldLock(lockPath, info);
    stale = await readNightLock(lockPath);
    if (!stale) continue; // released meanwhile
    if (stale.alive) return stale;
    if (!(await removeStale(lockPath, stale))) await delay(TAKEOVER_WAIT_MS);
  }
  // Only when a process died halfway through its own takeover of this very lock.
  const leftover = stale ? ` and ${takeoverPath(lockPath, stale)}` : '';
  throw new NightshiftError(
    `could not take over ${lockPath} from dead pid ${stale?.pid ?? '?'}: another process seems stuck taking it over; if no nightshift is working on this night, remove ${lockPath}${leftover} and try again`,
    ExitCode.usage,
  );
}

/** The lock's holder and whether it still runs, or undefined when the night is not locked. */
export async function readNightLock(lockPath: string): Promise<LockStatus | undefined> {
  const info = await readLockFile(lockPath);
  return info && { ...info, alive: info.host !== os.hostname() || isAlive(info.pid) };
}

function heldLock(lockPath: string, info: LockInfo): NightLock {
  return {
    path: lockPath,
    info,
    async release() {
      const current = await readLockFile(lockPath).catch(() => undefined);
      if (current && sameLock(current, info)) await rm(lockPath, { force: true });
    },
  };
}

/**
 * Creates the lock with its full content in one step: written to a temp file, then hard-linked to
 * the lock name, which fails if the name exists (like `wx`, but nobody ever sees a half-written lock).
 */
async function createExclusive(lockPath: string, info: LockInfo): Promise<boolean> {
  const temp = uniqueSibling(lockPath, 'new');
  try {
    await writeFile(temp, `${JSON.stringify(info)}\n`, { flag: 'wx' });
    await link(temp, lockPath);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    // A write error names no file: name the lock.
    if (isDiskFull(error)) throw diskFullError(lockPath, error);
    throw error;
  } finally {
    await rm(temp, { force: true });
  }
}

/**
 * Removes the stale lock `stale` unless it was replaced meanwhile; false when another process is
 * busy doing so. Files have no compare-and-delete, so only the one process that creates this stale
 * lock's own takeover file (exclusively) may check and remove it: while that file exists nobody else
 * removes the lock and nobody can create one, so what it checked still holds when it removes.
 */
async function removeStale(lockPath: string, stale: LockInfo): Promise<boolean> {
  const guard = takeoverPath(lockPath, stale);
  try {
    await writeFile(guard, `${process.pid}\n`, { flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
  try {
    const current = await readLockFile(lockPath).catch(() => undefined);
    if (current && sameLock(current, stale)) await rm(lockPath, { force: true });
    return true;
  } finally {
    await rm(guard, { force: true });
  }
}

/** Named after the stale lock itself, so a later stale lock never waits on an old takeover. */
function takeoverPath(lockPath: string, stale: LockInfo): string {
  const id = createHash('sha256')
    .update(JSON.stringify([stale.pid, stale.host, stale.started_at]))
    .digest('hex')
    .slice(0, 12);
  return path.join(path.dirname(lockPath), `.${path.basename(lockPath)}.takeover-${id}`);
}

async function readLockFile(lockPath: string): Promise<LockInfo | undefined> {
  const text = await readTextIfExists(lockPath);
  if (text === undefined) return undefined;
  const info = parseLock(text);
  if (info) return info;
  throw new NightshiftError(`${lockPath} is not a nightshift lock file; if no nightshift process is working on this night, remove it and try again`, ExitCode.usage);
}

function parseLock(text: string): LockInfo | undefined {
  try {
    const v = JSON.parse(text) as Partial<LockInfo>;
    if (!Number.isSafeInteger(v.pid) || v.pid! <= 0 || typeof v.host !== 'string' || typeof v.started_at !== 'string') return undefined;
    return { pid: v.pid!, host: v.host, started_at: v.started_at, purpose: typeof v.purpose === 'string' ? v.purpose : 'run' };
  } catch {
    return undefined;
  }
}

function sameLock(a: LockInfo, b: LockInfo): boolean {
  return a.pid === b.pid && a.host === b.host && a.started_at === b.started_at;
}

function lockedError(lockPath: string, holder: LockStatus): NightshiftError {
  const where = holder.host === os.hostname() ? '' : ` on host ${holder.host}`;
  const night = path.basename(path.dirname(lockPath));
  return new NightshiftError(
    `night ${night} is busy: pid ${holder.pid}${where} holds ${lockPath} (${holder.purpose}, since ${holder.started_at}). ` +
      `Wait for it (nightshift wait --date ${night}) or stop that process; if it is not nightshift, remove ${lockPath}.`,
    ExitCode.usage,
  );
}

function uniqueSibling(file: string, tag: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.${tag}.${process.pid}.${randomBytes(4).toString('hex')}`);
}

/**
 * A night folder belongs to the machine that started it (night.json's `machine`): two machines on one
 * root (NFS, a copied config) would otherwise take turns owning it and publish each other's builds.
 */
export function assertNightOwner(state: { machine: string; date: string } | undefined, machine: string, nightDir: string): void {
  if (!state || state.machine === machine) return;
  throw new NightshiftError(
    `night ${state.date} in ${nightDir} belongs to machine ${state.machine} (its night.json), not ${machine}: ` +
      `give each machine its own root (the schedule's root, --root or NIGHTSHIFT_ROOT), or run this as ${state.machine} (--machine ${state.machine})`,
    ExitCode.usage,
  );
}
