/**
 * The per-cell "latest good" pointer `nightshift/latest/<id>.json`: its shape, when it moves, and how
 * it is read and written — the only place that parses one. A pointer only ever names a build whose
 * artifacts are all published, and only ever moves forward in time.
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
});

/** A pointer moves forward only: re-uploading an older night never takes "latest" back in time. */
export function pointerMoves(existing: LatestPointer | undefined, date: string): boolean {
  return existing === undefined || existing.date <= date;
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
