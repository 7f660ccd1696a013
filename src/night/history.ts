/**
 * `<root>/history.json`: how long each build took on recent nights on this machine, so later nights
 * can order and balance builds by what they really cost rather than by the configured estimate
 * (src/plan/estimate.ts). After a night is published a copy goes to the destination, where the other
 * machines read it (src/store/shared-history.ts).
 */
import { mkdir, rename } from 'node:fs/promises';
import path from 'node:path';
import type { BuildStatus } from './layout.js';
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

/** Adds entries (keeping the last HISTORY_KEEP per build, by night) and writes the file atomically. */
export async function recordDurations(root: string, entries: readonly (HistoryEntry & { id: string })[]): Promise<void> {
  const file = historyPath(root);
  await serialized(file, async () => {
    const history = (await readHistory(file, { keepCorrupt: true })) ?? { version: 1, builds: {} };
    for (const { id, date, duration_s, status } of entries) {
      const list = [...(history.builds[id] ?? []), { date, duration_s, status }];
      // Stable sort: a rerun of the same night stays after the first run.
      list.sort((a, b) => (a.date < b.date ? -1 : a.date > b.date ? 1 : 0));
      history.builds[id] = list.slice(-HISTORY_KEEP);
    }
    await mkdir(root, { recursive: true });
    await removeStaleTemps(root, HISTORY_FILE);
    await writeJsonAtomic(file, history);
  });
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

/** One read-modify-write at a time per file in this process, so concurrent calls don't lose entries. */
const pending = new Map<string, Promise<unknown>>();

async function serialized<T>(file: string, task: () => Promise<T>): Promise<T> {
  const result = (pending.get(file) ?? Promise.resolve()).then(task);
  const tail = result.catch(() => undefined);
  pending.set(file, tail);
  void tail.then(() => {
    if (pending.get(file) === tail) pending.delete(file);
  });
  return result;
}
