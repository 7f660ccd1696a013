/**
 * Where a night's expected durations come from — the one place `run`, the daemon, `build` and `plan`
 * get them (the estimates themselves are computed by src/plan/estimate.ts):
 *
 * - `split` (which machine builds what): the matrix estimates refined by the shared history at the
 *   destination, of nights at least two before this one. Every machine reads the same objects, so every
 *   machine computes the same split: the night just before is left out because a machine whose night
 *   overran may publish it after the others started tonight's (and tonight's own would change the
 *   split during the day). This machine's local history.json is left out too: the others cannot see it.
 * - `order` (start order and admission on this machine): the shared history and the local one.
 *
 * Reading trouble never stops a night: it is a warning, and the split falls back to the matrix
 * estimates (which the other machines may not do, hence the warning).
 */
import type { Cell, Schedule } from '../config/model.js';
import type { PlanOptions } from '../plan/plan.js';
import { configEstimator, estimator, mergeDurations, type BuildDurations, type Estimator } from '../plan/estimate.js';
import { openScheduleDestination } from '../store/open.js';
import { readSharedHistory } from '../store/shared-history.js';
import { historyPath, readDurations } from '../night/history.js';
import { addDays } from '../night/night-date.js';
import { withTimeout } from '../timeout.js';

export interface NightEstimates {
  /** For the split across machines: the same on every machine that read the same shared history. */
  split: Estimator;
  /** For the start order and admission on this machine. */
  order: Estimator;
  /** The machines whose shared history was read; undefined when it could not be read. */
  sharedFrom?: string[];
}

export interface LoadEstimatesOptions {
  /** Told about history that could not be read (the night goes on). */
  warn: (line: string) => void;
  /** Gives up on the destination after this long (default 30 s), so a hung store cannot hold up a night. */
  timeoutMs?: number;
}

/** The matrix estimates alone (nothing read). */
export const configEstimates: NightEstimates = { split: configEstimator, order: configEstimator };

export async function loadEstimates(schedule: Schedule, date: string, options: LoadEstimatesOptions): Promise<NightEstimates> {
  const { warn } = options;
  const local: BuildDurations = await readDurations(schedule.root).catch((error: unknown) => {
    warn(`${historyPath(schedule.root)} could not be read (${(error as Error).message}); this machine orders its builds without it`);
    return {};
  });
  let shared: BuildDurations = {};
  let sharedFrom: string[] | undefined;
  let url = '';
  try {
    const read = await withTimeout(
      openScheduleDestination(schedule, date).then((destination) => {
        url = destination.url;
        return readSharedHistory(destination);
      }),
      options.timeoutMs ?? 30_000,
    );
    for (const problem of read.problems) warn(problem);
    shared = read.builds;
    sharedFrom = read.machines;
  } catch (error) {
    warn(
      `the shared build history${url ? ` at ${url}` : ''} could not be read (${(error as Error).message}); ` +
        "machines are balanced by the matrix estimates, so this split may differ from the other machines'",
    );
  }
  return {
    split: estimator(shared, { before: addDays(date, -1) }),
    order: estimator(mergeDurations([shared, local])),
    sharedFrom,
  };
}

/** The plan's options for these estimates: `split` for the split, `order` for the order on each machine. */
export function planOptions(estimates: NightEstimates): PlanOptions {
  return { estimate: (cell) => estimates.split(cell).estimateS, orderEstimate: (cell) => estimates.order(cell).estimateS };
}

/** Expected seconds of a cell on this machine, as runNight and the runner take it. */
export function orderSeconds(estimates: NightEstimates): (cell: Cell) => number {
  return (cell) => estimates.order(cell).estimateS;
}
