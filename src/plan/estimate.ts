/**
 * Expected build durations from recorded history — pure. A build's estimate is an exponentially
 * weighted mean of its recent successful durations, else the matrix `estimate`.
 *
 * - Only successes count: a build that failed after 2 minutes says nothing about how long it takes
 *   when it works, and a canceled one was cut short by us.
 * - A timeout since the last success is a lower bound: the build ran at least that long and may do
 *   so again, so the estimate is never below it.
 * - The weight of the newest success is ALPHA = 0.4 (then 0.24, 0.14, 0.09, ...): a real change (a
 *   new CUDA version that doubles the build) shows after two or three nights, while one slow night
 *   (a cold cache, a busy disk) moves the estimate by less than half of its excess.
 */
import type { Cell } from '../config/model.js';

export const EWMA_ALPHA = 0.4;

/** One recorded run of a build (the shape of history.json's entries). */
export interface DurationEntry {
  /** The night, YYYY_MM_DD. */
  date: string;
  duration_s: number;
  /** A build status: 'succeeded', 'failed', 'timed_out', ... */
  status: string;
}

/** Build id to its recorded runs. */
export type BuildDurations = Readonly<Record<string, readonly DurationEntry[]>>;

export type EstimateSource = 'history' | 'config';

export interface Estimate {
  estimateS: number;
  from: EstimateSource;
}

export type Estimator = (cell: Cell) => Estimate;

/** The expected duration of a build from its runs (any order), or `fallbackS` when none succeeded or timed out. */
export function ewmaEstimate(entries: readonly DurationEntry[], fallbackS: number): Estimate {
  const runs = byNight(entries.filter((e) => Number.isFinite(e.duration_s) && e.duration_s >= 0));
  let mean: number | undefined;
  let floor: number | undefined;
  for (const run of runs) {
    if (run.status === 'succeeded') {
      mean = mean === undefined ? run.duration_s : EWMA_ALPHA * run.duration_s + (1 - EWMA_ALPHA) * mean;
      floor = undefined; // a success after a timeout: the build got fast enough again
    } else if (run.status === 'timed_out') {
      floor = Math.max(floor ?? 0, run.duration_s);
    }
  }
  if (mean === undefined && floor === undefined) return { estimateS: fallbackS, from: 'config' };
  const expected = Math.max(mean ?? fallbackS, floor ?? 0);
  return { estimateS: Math.round(expected * 10) / 10, from: 'history' };
}

/**
 * One history from several (machines' shared objects, the local history.json): every build's runs
 * together, with the same run seen twice (a machine's local file and its own shared copy) kept once.
 * Sources in the same order give the same result, so machines reading the same objects agree.
 */
export function mergeDurations(sources: readonly BuildDurations[]): Record<string, DurationEntry[]> {
  const merged: Record<string, DurationEntry[]> = {};
  for (const source of sources) {
    for (const [id, entries] of Object.entries(source)) (merged[id] ??= []).push(...entries.map(({ date, duration_s, status }) => ({ date, duration_s, status })));
  }
  for (const id of Object.keys(merged)) {
    const seen = new Set<string>();
    merged[id] = byNight(merged[id]!).filter((e) => {
      const key = `${e.date}\0${e.duration_s}\0${e.status}`;
      return !seen.has(key) && (seen.add(key), true);
    });
  }
  return merged;
}

/**
 * Estimates of cells from a history. With `before`, only runs of earlier nights count: the split of
 * night D then stays the same all day (for a resumed run, `plan`, the report) even after machines
 * publish night D's durations.
 */
export function estimator(history: BuildDurations, options: { before?: string } = {}): Estimator {
  const { before } = options;
  return (cell) => {
    const entries = history[cell.id] ?? [];
    return ewmaEstimate(before === undefined ? entries : entries.filter((e) => e.date < before), cell.package.estimateS);
  };
}

/** The matrix estimates only. */
export const configEstimator: Estimator = (cell) => ({ estimateS: cell.package.estimateS, from: 'config' });

/** Oldest night first; stable, so the runs of one night (a rerun after a failure) keep their order. */
function byNight(entries: readonly DurationEntry[]): DurationEntry[] {
  return [...entries].sort((a, b) => (a.date < b.date ? -1 : a.date > b.date ? 1 : 0));
}
