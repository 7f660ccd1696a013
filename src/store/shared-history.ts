/**
 * Build durations shared through the destination. After a night is published each machine writes its
 * own history.json as `nightshift/history/<machine>.json`: one writer per object, so machines never
 * overwrite each other and need no lock. Readers list that folder and merge every machine's object —
 * one list and a small GET per machine.
 */
import { createHash } from 'node:crypto';
import * as z from 'zod';
import { parseJson } from '../json-format.js';
import { parseHistory, type BuildHistory } from '../night/history.js';
import { mergeDurations, type DurationEntry } from '../plan/estimate.js';
import type { Destination } from './destination.js';
import { historyKey, historyPrefix } from './published-layout.js';

/** What `nightshift/history/<machine>.json` holds: the machine's history.json, with who and when. */
export interface SharedHistoryObject extends BuildHistory {
  machine: string;
  updated_at: string;
}

export interface SharedHistory {
  /** Every machine's runs together (see mergeDurations). */
  builds: Record<string, DurationEntry[]>;
  /** Machines whose object was read, sorted. */
  machines: string[];
  /** Objects that were there but could not be understood (skipped), for a warning. */
  problems: string[];
}

// The object's envelope; its entries are filtered one by one (parseHistory), so one odd entry costs
// that entry only. Loose: fields a later version adds still read.
const sharedHistorySchema = z.looseObject({
  version: z.literal(1),
  machine: z.string().optional(),
  updated_at: z.string().optional(),
  builds: z.record(z.string(), z.array(z.unknown())),
});

/** Writes this machine's durations to its own object; resolves with the key. */
export async function writeSharedHistory(destination: Destination, machine: string, builds: BuildHistory['builds'], now: Date): Promise<string> {
  const key = historyKey(machine);
  const object: SharedHistoryObject = { version: 1, machine, updated_at: now.toISOString(), builds };
  const body = `${JSON.stringify(object)}\n`;
  await destination.putBytes(key, body, { sha256: createHash('sha256').update(body).digest('hex'), contentType: 'application/json' });
  return key;
}

/**
 * Every machine's shared durations. Keys are read in listing order (sorted), so every machine that
 * reads the same objects merges them the same way. A destination error is thrown (the caller decides
 * what to fall back to); an object that is not a history is skipped and named in `problems`.
 */
export async function readSharedHistory(destination: Destination): Promise<SharedHistory> {
  const pattern = new RegExp(`^${historyPrefix.replaceAll('/', '\\/')}([^/]+)\\.json$`);
  const keys = (await destination.list(historyPrefix)).filter((key) => pattern.test(key)).sort();
  const bodies = await Promise.all(keys.map((key) => destination.getBytes(key)));
  const sources: BuildHistory['builds'][] = [];
  const machines: string[] = [];
  const problems: string[] = [];
  keys.forEach((key, i) => {
    const body = bodies[i];
    if (body === undefined) return; // removed between the listing and the read
    const text = body.toString('utf8');
    const checked = parseJson(text, sharedHistorySchema, 1);
    const history = checked.ok ? parseHistory(text) : undefined;
    if (!history) {
      problems.push(`${destination.url}${key} is not a nightshift history; it is left out (${checked.ok ? 'no usable builds' : checked.problem})`);
      return;
    }
    sources.push(history.builds);
    machines.push(pattern.exec(key)![1]!);
  });
  return { builds: mergeDurations(sources), machines, problems };
}
