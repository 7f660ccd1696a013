/**
 * night.json's journal (`night.json.journal` beside it): what changed since night.json was last written
 * whole, so that recording a build's start or end costs the same in a night of 2,000 builds as in one of
 * 10. One JSON object a line, each ending in a newline:
 *
 *   {"journal":1,"base":<inode of the night.json it applies to>}             the first line
 *   {"fields":{...every field but builds},"builds":[...changed records]}      one line per update
 *
 * The state is night.json with every update line applied in order: `fields` replaces all the fields but
 * `builds`, and each record replaces the one with its id (or is added). A line is appended whole with one
 * write (O_APPEND); a line cut short (a power loss mid-write) ends the journal. Compaction writes the
 * state into night.json atomically (writeFileAtomic: temp file, fsync, rename), then removes the journal;
 * a journal whose base is not the night.json beside it is left from before such a rename and is ignored.
 * Appends are not fsynced: a killed process loses nothing it appended, and a power loss loses at most the
 * updates since the last compaction, which only makes the builds they recorded run again.
 */
import { open, readFile, stat, unlink, appendFile, truncate } from 'node:fs/promises';
import { journalOf } from './layout.js';
import { readTextIfExists } from '../files.js';

export const JOURNAL_VERSION = 1;

/** The state file's text and what its journal adds to it. */
export interface JournaledText {
  /** night.json as read. */
  text: string;
  /** The journal's update lines for this night.json, parsed, in order. */
  updates: JournalUpdate[];
}

export interface JournalUpdate {
  /** Every field of the state but `builds`. */
  fields: object;
  /** The records this update changed, whole. */
  builds?: readonly { id: string }[];
}

/** The first line of a new journal for the night.json with this inode. */
export function journalStart(baseInode: number): string {
  return `${JSON.stringify({ journal: JOURNAL_VERSION, base: baseInode })}\n`;
}

/** One update's line. */
export function journalLine(update: JournalUpdate): string {
  return `${JSON.stringify(update)}\n`;
}

/**
 * Reads `file` and its journal as one consistent pair: when night.json was replaced meanwhile (a
 * compaction), both are read again. Undefined when there is no `file`.
 */
export async function readJournaled(file: string): Promise<JournaledText | undefined> {
  for (let tries = 0; ; tries++) {
    const base = await readWithInode(file);
    if (!base) return undefined;
    const journal = await readTextIfExists(journalOf(file));
    const now = await stat(file).catch(() => undefined);
    if (now?.ino !== base.inode && tries < 50) continue;
    return { text: base.text, updates: journal === undefined ? [] : journalUpdates(journal, base.inode) };
  }
}

/** The update lines of a journal's text when it applies to the night.json with `baseInode`, else none. */
export function journalUpdates(text: string, baseInode: number): JournalUpdate[] {
  const lines = text.split('\n');
  // The last piece has no newline: empty, or a line still being written (or cut short).
  lines.pop();
  const start = parseLine(lines[0]);
  if (start?.journal !== JOURNAL_VERSION || start.base !== baseInode) return [];
  const updates: JournalUpdate[] = [];
  for (const line of lines.slice(1)) {
    const update = parseLine(line);
    if (typeof update?.fields !== 'object' || update.fields === null) break;
    updates.push(update as unknown as JournalUpdate);
  }
  return updates;
}

/** `base` (night.json's parsed content) with the updates applied; `base` itself is left as it was. */
export function applyUpdates(base: Record<string, unknown>, updates: readonly JournalUpdate[]): Record<string, unknown> {
  if (updates.length === 0) return base;
  const builds = Array.isArray(base.builds) ? [...(base.builds as { id: string }[])] : [];
  const at = new Map(builds.map((record, index) => [record.id, index]));
  let fields: object = base;
  for (const update of updates) {
    fields = update.fields;
    for (const record of update.builds ?? []) {
      const index = at.get(record.id);
      if (index === undefined) at.set(record.id, builds.push(record) - 1);
      else builds[index] = record;
    }
  }
  return { ...fields, builds };
}

/** Appends text to the journal; on failure the journal is cut back to `size` so no partial line stays in it. */
export async function appendJournal(file: string, text: string, size: number): Promise<void> {
  try {
    await appendFile(journalOf(file), text, 'utf8');
  } catch (error) {
    await truncate(journalOf(file), size).catch(() => {});
    throw error;
  }
}

export async function removeJournal(file: string): Promise<void> {
  await unlink(journalOf(file)).catch((error: unknown) => {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  });
}

/** The inode of `file`, the base a new journal names. */
export async function inodeOf(file: string): Promise<number> {
  return (await stat(file)).ino;
}

async function readWithInode(file: string): Promise<{ text: string; inode: number } | undefined> {
  let handle;
  try {
    handle = await open(file, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    const inode = (await handle.stat()).ino;
    return { text: await readFile(handle, 'utf8'), inode };
  } finally {
    await handle.close();
  }
}

function parseLine(line: string | undefined): Record<string, unknown> | undefined {
  if (line === undefined) return undefined;
  try {
    const value = JSON.parse(line) as unknown;
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
