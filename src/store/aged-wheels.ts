/**
 * Removing the wheels of nights that left the pip channels (`upload.index.keep_days`) from the
 * destination, safely. Which wheels aged out is the channel's business (pip-index.ts); this file only
 * makes sure that what goes may go:
 *
 * - a key that a kept night's manifest names stays (the caller leaves those out), and
 * - a key that a cell's latest pointer (`nightshift/latest/<id>.json`) names stays, so a cell that has
 *   failed for longer than keep_days keeps its last good wheel at the URL its pointer gives.
 *
 * A delete that fails is a problem to report, never an error: the candidates are derived from the
 * manifests at every upload, so the next upload tries again.
 */
import type { Destination } from './destination.js';
import { readLatestPointer } from './latest.js';

export interface AgedWheelsRequest {
  destination: Destination;
  /** Build id to the keys of its wheels in aged nights that no kept night names. */
  candidates: ReadonlyMap<string, readonly string[]>;
}

export interface AgedWheelsOutcome {
  /** Keys removed by this call, sorted (those found gone already are not counted). */
  deleted: string[];
  /** Keys kept because the cell's latest pointer names them, sorted. */
  keptForLatest: string[];
  /** What could not be done, each saying that the next upload tries again. */
  problems: string[];
}

/** At most this many requests at once: a year of nights must not open thousands of connections. */
const CONCURRENCY = 8;

export async function removeAgedWheels(request: AgedWheelsRequest): Promise<AgedWheelsOutcome> {
  const { destination } = request;
  const problems: string[] = [];
  const keptForLatest = new Set<string>();
  const doomed = new Set<string>();
  await eachLimit([...request.candidates], CONCURRENCY, async ([id, keys]) => {
    let named: Set<string>;
    try {
      named = new Set((await readLatestPointer(destination, id))?.pointer.artifacts.map((a) => a.key) ?? []);
    } catch (error) {
      // Not knowing what the pointer names, keep everything of the cell.
      problems.push(`older wheels of ${id} kept: its latest pointer could not be read (${(error as Error).message}); the next upload tries again`);
      return;
    }
    for (const key of keys) (named.has(key) ? keptForLatest : doomed).add(key);
  });
  // A key two cells share (the same object published by both) stays when either pointer names it.
  for (const key of keptForLatest) doomed.delete(key);

  const deleted: string[] = [];
  await eachLimit([...doomed], CONCURRENCY, async (key) => {
    try {
      // Removed by an earlier upload (or another machine's): nothing to do, nothing to count. A listing
      // and not head(), which on a file:// destination reads the whole file for its sha256.
      if (!(await destination.list(key)).includes(key)) return;
      await destination.delete(key);
      deleted.push(key);
    } catch (error) {
      problems.push(`could not remove ${key}, a wheel of a night older than keep_days: ${(error as Error).message}; the next upload tries again`);
    }
  });
  return { deleted: deleted.sort(), keptForLatest: [...keptForLatest].sort(), problems };
}

/** Runs `task` over `items`, at most `limit` at a time. */
export async function eachLimit<T>(items: readonly T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await task(items[next++]!);
    }),
  );
}
