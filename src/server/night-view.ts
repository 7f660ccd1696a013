/**
 * What the live page shows of a night, read from the night folder (read-only): every build with its
 * status, times, duration against the usual one (the median of this machine's successful runs in
 * history.json) and the statuses of the same cell on the last nights. The earlier nights and the history
 * are read again only when their files change, so a poll costs one night.json read.
 */
import { stat } from 'node:fs/promises';
import { nightLayout, type BuildStatus } from '../night/layout.js';
import { historyPath, readDurations, type HistoryEntry } from '../night/history.js';
import { listNights } from '../night/nights.js';
import { runnerGone } from '../night/read-night.js';
import { readNightState, type NightState } from '../night/state.js';

/** How many earlier nights each cell's strip shows. */
export const STRIP_NIGHTS = 7;

export interface CellView {
  id: string;
  package: string;
  axes: Record<string, string>;
  status: BuildStatus;
  /** The machine whose night this is (builds of the fleet's other machines are in `fleet`). */
  machine: string;
  started_at: string | null;
  finished_at: string | null;
  duration_s: number | null;
  /** The median duration of the cell's successful runs on earlier nights, when history has any. */
  usual_s: number | null;
  exit_code: number | null;
  reason: string | null;
  attempt: number;
  manual: boolean;
  /** The cell's status on the earlier nights that had it, oldest first. */
  last_nights: { date: string; status: BuildStatus }[];
}

export interface NightView {
  date: string;
  schedule: string;
  machine: string;
  timezone: string;
  started_at: string | null;
  finished_at: string | null;
  updated_at: string;
  /** Builds unfinished and no live process holds the night's lock. */
  runner_gone: boolean;
  cells: CellView[];
  /** The night folders under the root, oldest first, for links to the others. */
  nights: string[];
}

interface Stamped<T> {
  stamp: string;
  value: T;
}

export interface NightReaderOptions {
  root: string;
  timezone: string;
}

/** Reads nights under one root, remembering what did not change since the last read. */
export class NightReader {
  private readonly pastNights = new Map<string, Stamped<Map<string, BuildStatus>>>();
  private history: Stamped<Record<string, HistoryEntry[]>> | undefined;

  constructor(private readonly options: NightReaderOptions) {}

  get root(): string {
    return this.options.root;
  }

  /** The night's view, or undefined when the night has no night.json. */
  async read(date: string): Promise<NightView | undefined> {
    const layout = nightLayout(this.options.root, date);
    const state = await readNightState(layout.state);
    if (!state) return undefined;
    const nights = await listNights(this.options.root);
    const earlier = nights.filter((night) => night < date).slice(-STRIP_NIGHTS);
    const [history, past, gone] = await Promise.all([
      this.readHistory(),
      Promise.all(earlier.map(async (night) => [night, await this.statusesOf(night)] as const)),
      runnerGone(layout, state.builds),
    ]);
    return {
      date: state.date,
      schedule: state.schedule,
      machine: state.machine,
      timezone: this.options.timezone,
      started_at: state.started_at ?? null,
      finished_at: state.finished_at ?? null,
      updated_at: state.updated_at,
      runner_gone: gone,
      cells: state.builds.map((build) => ({
        id: build.id,
        package: build.package,
        axes: build.axes,
        status: build.status,
        machine: state.machine,
        started_at: build.started_at ?? null,
        finished_at: build.finished_at ?? null,
        duration_s: build.duration_s ?? null,
        usual_s: usualDuration(history[build.id] ?? [], date),
        exit_code: build.exit_code ?? null,
        reason: build.reason ?? null,
        attempt: build.attempt,
        manual: build.manual ?? false,
        last_nights: past.flatMap(([night, statuses]) => {
          const status = statuses.get(build.id);
          return status ? [{ date: night, status }] : [];
        }),
      })),
      nights,
    };
  }

  /** Build id → status on an earlier night; empty when that night cannot be read (a strip is no reason to fail the page). */
  private async statusesOf(date: string): Promise<Map<string, BuildStatus>> {
    const layout = nightLayout(this.options.root, date);
    const stamp = await stampOf(layout.state, layout.journal);
    const known = this.pastNights.get(date);
    if (known?.stamp === stamp) return known.value;
    const state: NightState | undefined = await readNightState(layout.state).catch(() => undefined);
    const value = new Map((state?.builds ?? []).map((build) => [build.id, build.status]));
    this.pastNights.set(date, { stamp, value });
    return value;
  }

  private async readHistory(): Promise<Record<string, HistoryEntry[]>> {
    const file = historyPath(this.options.root);
    const stamp = await stampOf(file);
    if (this.history?.stamp !== stamp) this.history = { stamp, value: await readDurations(this.options.root) };
    return this.history.value;
  }
}

/** Size and modification time of each file ('-' for a missing one): changes whenever the content does. */
async function stampOf(...files: string[]): Promise<string> {
  const stats = await Promise.all(files.map((file) => stat(file).catch(() => undefined)));
  return stats.map((s) => (s ? `${s.ino}:${s.size}:${s.mtimeMs}` : '-')).join('/');
}

/** The median of the successful runs on other nights than `date` (a failure ends early and says nothing of the usual). */
export function usualDuration(entries: readonly HistoryEntry[], date: string): number | null {
  const durations = entries
    .filter((entry) => entry.status === 'succeeded' && entry.date !== date)
    .map((entry) => entry.duration_s)
    .sort((a, b) => a - b);
  if (durations.length === 0) return null;
  const middle = Math.floor(durations.length / 2);
  return durations.length % 2 ? durations[middle]! : (durations[middle - 1]! + durations[middle]!) / 2;
}
