/**
 * The per-cell "latest good" pointer `nightshift/latest/<id>.json`: its shape, when it moves, and how
 * it is read and written — the only place that parses one. A pointer only ever names a build whose
 * artifacts are all published, and only ever moves forward in time: to a later night, or within the
 * night to a newer good build of the cell (with the shared queue, a cell can end on two machines).
 */
import { createHash } from 'node:crypto';
import * as z from 'zod';
import { parseJson } from '../json-format.js';
import type { Destination } from './destination.js';
import { publishedArtifactSchema, type PublishedArtifact } from './manifest.js';
import { latestKey } from './published-layout.js';

export interface LatestPointer {
  id: string;
  date: string;
  machine: string;
  commit: string | null;
  manifest: string;
  artifacts: PublishedArtifact[];
  /** When the named build ended; pointers written before it was added lack it (their manifest has it). */
  finished_at?: string | null;
}

/** What decides between two good builds of a cell: the night, the machine that built it, when it ended. */
export interface PointerBuild {
  date: string;
  machine: string;
  /** undefined or null: not known (an older pointer that its manifest does not explain either). */
  finished_at?: string | null;
}

// The pointer has no version field of its own (written so since the first release); loose, so fields
// a later version adds still read.
const pointerSchema = z.looseObject({
  id: z.string(),
  date: z.string(),
  machine: z.string(),
  commit: z.string().nullable(),
  manifest: z.string(),
  artifacts: z.array(publishedArtifactSchema),
  finished_at: z.string().nullable().optional(),
});

/**
 * A pointer moves forward only: re-uploading an older night never takes "latest" back in time. Within
 * a night a machine rewrites its own pointer (a rebuild), but another machine's only for a build that
 * ended later: when either end is unknown the pointer stays, since replacing it might go back in time.
 */
export function pointerMoves(existing: PointerBuild | undefined, candidate: PointerBuild): boolean {
  if (existing === undefined || existing.date < candidate.date) return true;
  if (existing.date > candidate.date) return false;
  if (existing.machine === candidate.machine) return true;
  const before = Date.parse(existing.finished_at ?? '');
  const after = Date.parse(candidate.finished_at ?? '');
  return after > before;
}

export function pointerBody(pointer: LatestPointer): string {
  return `${JSON.stringify(pointer, null, 2)}\n`;
}

/**
 * The pointer of build `id` with its exact text (to tell whether a write would change anything), or
 * undefined when there is none. One that cannot be read is an error naming the object: a pointer is
 * not replaced when it is not known whether that would take it back in time.
 */
export async function readLatestPointer(destination: Destination, id: string): Promise<{ pointer: LatestPointer; text: string } | undefined> {
  const key = latestKey(id);
  const body = await destination.getBytes(key);
  if (body === undefined) return undefined;
  const text = body.toString('utf8');
  const parsed = parseJson(text, pointerSchema);
  if (!parsed.ok) throw new Error(`${destination.url}${key} is not a latest pointer this nightshift can read (${parsed.problem}); remove it to let the next upload write it again`);
  return { pointer: parsed.value, text };
}

export async function writeLatestPointer(destination: Destination, pointer: LatestPointer): Promise<void> {
  const body = pointerBody(pointer);
  await destination.putBytes(latestKey(pointer.id), body, { sha256: createHash('sha256').update(body).digest('hex'), contentType: 'application/json' });
}
