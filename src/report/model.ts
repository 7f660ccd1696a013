/**
 * What the morning report knows about a night across the fleet: every planned cell with its result
 * (or `missing`), how long it has been failing, and which machines never reported. Built by
 * history.ts from manifests; rendered by render.ts. Plain data, no I/O.
 */

/** A build status, or `missing`: planned for the night but no machine reported a result. */
export type CellStatus = 'succeeded' | 'failed' | 'timed_out' | 'canceled' | 'not_run' | 'skipped' | 'pending' | 'running' | 'missing';

/** How tonight compares with the night before. */
export type CellChange = 'newly-failed' | 'still-failing' | 'fixed' | 'still-good' | 'first-night';

export interface ReportCell {
  id: string;
  package: string;
  /** Axis name to value, in build-id order. */
  axes: Record<string, string>;
  /** The machine whose result is shown (or the one planned to build it; '' with the shared queue). */
  machine: string;
  status: CellStatus;
  reason: string | null;
  duration_s: number | null;
  exit_code: number | null;
  /** Nights in a row, tonight included, that this cell did not succeed; 0 when it succeeded. */
  streak: number;
  /** The first night of the current failing streak, null when it succeeded tonight. */
  failing_since: string | null;
  /** The last night it succeeded before tonight, if the history knows one. */
  last_success: string | null;
  change: CellChange;
  /** Where the full log is (a key at the destination and, when there is one, a URL), and its last lines. */
  log: { key: string | null; url: string | null; tail: string[] };
  /** A failure: the first line of its log that says what went wrong (null when none does). */
  first_error?: string | null;
  /** The median duration of its successful builds in the nights the history read (null: none). */
  usual_s?: number | null;
  /** The recipes commits: tonight's, and for a failure the last good and first bad nights' (and a compare link). */
  commits?: { tonight: string | null; last_good: string | null; first_bad: string | null; compare_url: string | null };
  /** The cell also ended on these machines (the shared queue took it over), with what it did there. */
  also_ran_on?: { machine: string; status: CellStatus }[];
}

export interface ReportMachine {
  name: string;
  /** False when the machine published no manifest for the night. */
  reported: boolean;
  /** The builds in its manifest; for a silent machine, its planned share (0 with the shared queue). */
  builds: number;
  failed: number;
  /** When it could not reach the shared queue during the night (its running builds went on). */
  queueOutages?: { from: string; to?: string }[];
}

export interface ReportModel {
  date: string;
  schedule: string;
  /** The destination root the manifests were read from. */
  destination: string;
  /** Axis names in build-id order across all packages (for the grid). */
  axes: string[];
  machines: ReportMachine[];
  /** Every planned cell, then any reported cell the plan did not expect; in plan order. */
  cells: ReportCell[];
  /** `failed`: the builds' own failures (failed, timed out, canceled); `not_run`: builds the machine could not run. */
  counts: { total: number; succeeded: number; failed: number; not_run: number; missing: number };
  /** Earlier nights the history looked at, newest first. */
  history: string[];
  /** The schedule has a shared queue: cells have no planned machine, and a missing cell is one no machine ran. */
  queue?: boolean;
  /** Set when the destination could not be read and the report was made from this machine's night alone. */
  degraded?: string;
}

/** Did not succeed (and did run or was expected to): what the report lists. */
export function isFailure(status: CellStatus): boolean {
  return status !== 'succeeded' && status !== 'skipped';
}

/** The night's cells counted: the machine's trouble (not run) and the missing apart from the builds' own failures. */
export function countCells(cells: readonly Pick<ReportCell, 'status'>[]): ReportModel['counts'] {
  const count = (test: (status: CellStatus) => boolean) => cells.filter((cell) => test(cell.status)).length;
  return {
    total: cells.length,
    succeeded: count((s) => s === 'succeeded'),
    failed: count((s) => isFailure(s) && s !== 'missing' && s !== 'not_run'),
    not_run: count((s) => s === 'not_run'),
    missing: count((s) => s === 'missing'),
  };
}
