/**
 * `<root>/.nightshift-root`: the mark of a folder nightshift made (or took over) for its nights. Prune,
 * the disk guard and cache trimming remove nothing under a root without it, so a mistyped root — a
 * home folder, an archive with dated folders — never loses a file to them. Opening a night marks the
 * root; prune alone never does.
 */
import { lstat, mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ROOT_FIX, systemFolderReason } from '../config/system-folders.js';
import { ExitCode, NightshiftError } from '../errors.js';
import { nightLayout } from './layout.js';
import { isNightDate } from './night-date.js';

export const ROOT_MARKER = '.nightshift-root';
const MARKER_VERSION = 1;

export function rootMarkerPath(root: string): string {
  return path.join(root, ROOT_MARKER);
}

/**
 * Why nothing may be removed under `root`, or undefined when it is nightshift's (marked, not a system
 * folder). A root that does not exist holds nothing to remove: undefined.
 */
export async function rootRefusal(root: string): Promise<string | undefined> {
  const system = systemFolderReason(root);
  if (system) return `nothing removed under ${root}: ${system}; ${ROOT_FIX}`;
  if (!(await exists(root))) return undefined;
  if (await isMarked(root)) return undefined;
  return (
    `nothing removed under ${root}: it has no ${ROOT_MARKER}, so nightshift did not make it (or made it before roots were marked). ` +
    `If the root is right, \`nightshift run\` marks it when it opens its next night there (when every YYYY_MM_DD folder in it is a nightshift night); ` +
    `otherwise point the schedule's root (or --root) at nightshift's own folder`
  );
}

/**
 * Marks `root` as nightshift's when a night is opened there: a new or empty root, or one whose dated
 * folders are all nightshift nights (a root from before markers). Returns why it was not marked, when
 * it was not: prune then leaves the root alone. Refuses a system folder (exit 2).
 */
export async function markRoot(root: string, by: string, now: Date = new Date()): Promise<string | undefined> {
  const system = systemFolderReason(root);
  if (system) throw new NightshiftError(`root ${root} cannot hold nights: ${system}; ${ROOT_FIX}`, ExitCode.usage);
  if (await isMarked(root)) return undefined;
  await mkdir(root, { recursive: true });
  const foreign: string[] = [];
  let nights = 0;
  for (const entry of await readdir(root, { withFileTypes: true })) {
    if (!entry.isDirectory() || !isNightDate(entry.name)) continue;
    if (await isNightFolder(root, entry.name)) nights++;
    else foreign.push(entry.name);
  }
  if (foreign.length) {
    const shown = foreign.length > 3 ? `${foreign.slice(0, 3).join(', ')} and ${foreign.length - 3} more` : foreign.join(', ');
    return (
      `${root} is not marked as nightshift's (${ROOT_MARKER}): ${shown} ${foreign.length === 1 ? 'is a dated folder' : 'are dated folders'} without night.json, not nightshift nights, ` +
      `so prune and the disk guard remove nothing there. Move them out of the root (or give the schedule a root of its own), and the next run marks it`
    );
  }
  const marker = { version: MARKER_VERSION, created_at: now.toISOString(), created_by: `nightshift ${by}`, pid: process.pid, nights_found: nights };
  // wx: a marker written meanwhile by another run is as good as ours.
  await writeFile(rootMarkerPath(root), `${JSON.stringify(marker)}\n`, { flag: 'wx' }).catch((error: unknown) => {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  });
  return undefined;
}

/** A regular file (not a folder or symlink someone put there) named like the marker. */
async function isMarked(root: string): Promise<boolean> {
  const stats = await lstat(rootMarkerPath(root)).catch(() => undefined);
  return stats?.isFile() ?? false;
}

/** A night a run left: its night.json, or the master log folder a run creates before anything else. */
async function isNightFolder(root: string, name: string): Promise<boolean> {
  const layout = nightLayout(root, name);
  return (await exists(layout.state)) || (await exists(layout.logs.master));
}

async function exists(file: string): Promise<boolean> {
  return (await lstat(file).catch(() => undefined)) !== undefined;
}
