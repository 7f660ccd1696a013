/**
 * `<root>/history.json`: how long each build took on recent nights on this machine, so later nights
 * can order and balance builds by what they really cost rather than by the configured estimate
 * (src/plan/estimate.ts). After a night is published a copy goes to the destination, where the other
 * machines read it (src/store/shared-history.ts).
 */
import { mkdir, rename } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { BuildStatus } from './layout.js';
import { acquireLockOrHolder, type NightLock } from './lock.js';
import { readTextIfExists, removeStaleTemps, writeJsonAtomic } from '../files.js';

export const HISTORY_KEEP = 20;

export interface HistoryEntry {
  /** The night, YYYY_MM_DD. */
  date: string;
  duration_s: number;
  status: BuildStatus;
}

export interface BuildHistory {
  version: 1;
  builds: Record<string, HistoryEntry[]>;
}

/** The file's name in the root. */
export const HISTORY_FILE = 'history.json';

export function historyPath(root: string): string {
  return path.join(root, HISTORY_FILE);
}

/** How long a writer waits for another process's write of the same history. */
const LOCK_WAIT_MS = 30_000;

/**
 * Adds entries (keeping the last HISTORY_KEEP per build, by night) and writes the file atomically.
 * Other processes on the root (a hand build, a rerun of another night) may write it too: one at a time,
 * through history.json.lock. Resolves with why nothing was recorded when that lock stayed held.
 */
export async function recordDurations(root: string, entries: readonly (HistoryEntry & { id: string })[]): Promise<string | undefined> {
  const file = historyPath(root);
  await mkdir(root, { recursive: true });
  const lock = await waitForLock(`${file}.lock`);
  if (typeof lock === 'string') return lock;
  try {
    await recordLocked(file, root, entries);
  } finally {
    await lock.release();
  }
  return undefined;
}

async function recordLocked(file: string, root: string, entries: readonly (HistoryEntry & { id: string })[]): Promise<void> {
  const history = (await readHistory(file, { keepCorrupt: true })) ?? { version: 1, builds: {} };
  for (const { id, date, duration_s, status } of entries) {
    const list = [...(history.builds[id] ?? []), { date, duration_s, status }];
    // Stable sort: a rerun of the same night stays after the first run.
    list.sort((a, b) => (a.date < b.date ? -1 : a.date > b.date ? 1 : 0));
    history.builds[id] = list.slice(-HISTORY_KEEP);
  }
  await removeStaleTemps(root, HISTORY_FILE);
  await writeJsonAtomic(file, history);
}

/** The history's lock, or why it could not be had within LOCK_WAIT_MS (its live holder). */
async function waitForLock(lockPath: string): Promise<NightLock | string> {
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    const taken = await acquireLockOrHolder(lockPath, { purpose: 'history' });
    if ('release' in taken) return taken;
    if (Date.now() >= deadline) return `${lockPath} stayed held for ${LOCK_WAIT_MS / 1000}s (pid ${taken.pid} on ${taken.host}, ${taken.purpose}, since ${taken.started_at})`;
    await delay(20);
  }
}

/** Build id → its recorded runs, oldest first; a missing or unreadable history is empty. */
export async function readDurations(root: string): Promise<BuildHistory['builds']> {
  return (await readHistory(historyPath(root), { keepCorrupt: false }))?.builds ?? {};
}

/**
 * The history, or undefined when there is none or it cannot be understood. A writer moves such a
 * file aside (history.json.corrupt) instead of overwriting it, so nothing is lost for inspection.
 */
async function readHistory(file: string, options: { keepCorrupt: boolean }): Promise<BuildHistory | undefined> {
  const text = await readTextIfExists(file);
  if (text === undefined) return undefined;
  const history = parseHistory(text);
  if (!history && options.keepCorrupt) await rename(file, `${file}.corrupt`);
  return history;
}

/** history.json's content (also the shape of a machine's shared history object), or undefined when it is not one. */
export function parseHistory(text: string): BuildHistory | undefined {
  try {
    // Anything JSON: checked field by field.
    const value = JSON.parse(text) as { version?: unknown; builds?: unknown } | null;
    if (value?.version !== 1 || typeof value.builds !== 'object' || value.builds === null || Array.isArray(value.builds)) return undefined;
    const builds: Record<string, HistoryEntry[]> = {};
    for (const [id, list] of Object.entries(value.builds)) {
      if (Array.isArray(list)) builds[id] = list.filter(isEntry);
    }
    return { version: 1, builds };
  } catch {
    return undefined;
  }
}

function isEntry(value: unknown): value is HistoryEntry {
  const e = value as Partial<HistoryEntry> | null;
  return typeof e?.date === 'string' && typeof e.duration_s === 'number' && Number.isFinite(e.duration_s) && typeof e.status === 'string';
}
