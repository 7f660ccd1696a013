/** Creating a night's folder tree, and nightshift's own log of the night (logs/master/). */
import { appendFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { NightLayout } from './layout.js';
import { markRoot } from './root-marker.js';

/**
 * Creates the folders a run writes into; idempotent. `recipes/` is left to the clone, which renames
 * itself into place. Marks the root as nightshift's first (root-marker.ts); returns why it could not,
 * when it could not.
 */
export async function openNight(layout: NightLayout, purpose = 'run'): Promise<string | undefined> {
  const unmarked = await markRoot(layout.root, purpose);
  const folders = [...Object.values(layout.logs), layout.artifacts, layout.work];
  for (const folder of folders) await mkdir(folder, { recursive: true });
  return unmarked;
}

/**
 * Appends `line` to logs/master/<name>.log (e.g. `run`, `slot-1`), each line stamped with the time.
 * One appendFile per call (O_APPEND) so lines written by parallel slots never interleave mid-line.
 */
export async function appendMasterLog(layout: NightLayout, name: string, line: string, at: Date = new Date()): Promise<void> {
  if (name === '' || name !== path.basename(name) || name.startsWith('.')) {
    throw new Error(`appendMasterLog: "${name}" is not a plain log name`);
  }
  const stamp = at.toISOString();
  const text = line
    .replace(/\n+$/, '')
    .split('\n')
    .map((l) => `${stamp} ${l}\n`)
    .join('');
  await appendFile(path.join(layout.logs.master, `${name}.log`), text, 'utf8');
}
